package ai.attune.plugins.lora;

import ai.attune.api.io.SafetensorsReader;
import ai.attune.api.model.ModelConfig;
import ai.attune.api.nn.DropoutSeeds;
import ai.attune.api.nn.Module;
import ai.attune.api.spi.MethodContext;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;
import ai.attune.kernels.jvm.JvmBackend;
import ai.attune.plugins.model.llama.LlamaFamily;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The per-layer update norm LoRA reports, against the explicit product scaling · B @ A. */
class LoraMetricsTest {
    static final Path STORIES = Path.of("../../../shared/models/stories260K");

    @Test
    void baNormIsTheFrobeniusNormOfTheScaledUpdate() throws Exception {
        JvmBackend be = new JvmBackend();
        try (Scope job = Scope.open("job"); SafetensorsReader w = SafetensorsReader.openModelDir(STORIES)) {
            Module m = new LlamaFamily().load(ModelConfig.read(STORIES), w, be, DType.F32, job);
            LoraConfig c = LoraConfig.DEFAULTS; // r 8, alpha 8: q_proj and v_proj
            new LoraMethod().apply(m, c, new MethodContext(be, DType.F32, job, 1, new DropoutSeeds(1), STORIES, null));
            Random r = new Random(3);
            for (LoraLayer l : LoraLayers.find(m).values()) { // B starts at zero: give it values
                Tensor b = l.loraB().weight().value();
                be.copy(Tensors.of(be, DType.F32, r.doubles(b.numel(), -0.1, 0.1).toArray(), b.shape()), b);
            }
            Map<String, Double> got = new LinkedHashMap<>();
            new LoraMethod().metrics(m, c, got::put);
            assertEquals(10, got.size(), "5 layers x {q_proj, v_proj}");
            for (var e : LoraLayers.find(m).entrySet()) {
                double[] a = Tensors.toDoubles(e.getValue().loraA().weight().value()); // [8, in]
                double[] b = Tensors.toDoubles(e.getValue().loraB().weight().value()); // [out, 8]
                int in = a.length / 8;
                int out = b.length / 8;
                double sq = 0;
                for (int o = 0; o < out; o++) {
                    for (int i = 0; i < in; i++) {
                        double d = 0;
                        for (int k = 0; k < 8; k++) {
                            d += b[o * 8 + k] * a[k * in + i];
                        }
                        sq += d * d;
                    }
                }
                assertEquals(c.scaling() * Math.sqrt(sq), got.get("ba_norm." + e.getKey()), 1e-9 * Math.sqrt(sq) + 1e-12, e.getKey());
            }
        }
    }
}
