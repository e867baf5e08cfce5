package ai.attune.plugins.adapter;

import ai.attune.api.autograd.GradMode;
import ai.attune.api.io.SafetensorsFile;
import ai.attune.api.io.SafetensorsReader;
import ai.attune.api.model.CausalLM;
import ai.attune.api.model.ModelConfig;
import ai.attune.api.nn.DropoutSeeds;
import ai.attune.api.nn.Parameter;
import ai.attune.api.spi.MethodContext;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;
import ai.attune.api.tensor.UnaryOp;
import ai.attune.kernels.jvm.JvmBackend;
import ai.attune.plugins.model.llama.LlamaFamily;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Houlsby adapters on the pretrained stories260K: the maths against plain loops, AdapterHub's keys and files. */
class AdapterMethodTest {
    static final Path STORIES = Path.of("../../../shared/models/stories260K");
    final JvmBackend be = new JvmBackend();

    @TempDir
    Path tmp;

    CausalLM load(Scope job) throws Exception {
        try (SafetensorsReader w = SafetensorsReader.openModelDir(STORIES)) {
            return (CausalLM) new LlamaFamily().load(ModelConfig.read(STORIES), w, be, DType.F32, job);
        }
    }

    MethodContext ctx(Scope job) {
        return new MethodContext(be, DType.F32, job, 11, new DropoutSeeds(11), STORIES, null);
    }

    @Test
    void anAdapterIsYPlusUpOfSwishOfDown() {
        try (Scope s = Scope.open("t"); GradMode.Region ng = GradMode.noGrad()) {
            int d = 6;
            int r = 2;
            BottleneckAdapter a = new BottleneckAdapter(be, s, d, r, UnaryOp.SILU);
            Random rnd = new Random(2);
            Map<String, Parameter> p = a.namedParameters();
            double[][] w = new double[4][];
            String[] names = {"adapter_down.0.weight", "adapter_down.0.bias", "adapter_up.weight", "adapter_up.bias"};
            for (int i = 0; i < 4; i++) {
                Tensor t = p.get(names[i]).value();
                w[i] = rnd.doubles(t.numel(), -1, 1).toArray();
                be.copy(Tensors.of(be, DType.F32, w[i], t.shape()), t);
                w[i] = Tensors.toDoubles(t); // as f32 holds them
            }
            double[] y = Tensors.toDoubles(Tensors.of(be, DType.F32, rnd.doubles(3 * d, -2, 2).toArray(), 1, 3, d));
            double[] got = Tensors.toDoubles(a.forward(Tensors.of(be, DType.F32, y, 1, 3, d)));
            for (int t = 0; t < 3; t++) {
                double[] h = new double[r];
                for (int k = 0; k < r; k++) {
                    double z = w[1][k];
                    for (int j = 0; j < d; j++) {
                        z += w[0][k * d + j] * y[t * d + j];
                    }
                    h[k] = z / (1 + Math.exp(-z)); // swish
                }
                for (int j = 0; j < d; j++) {
                    double up = w[3][j];
                    for (int k = 0; k < r; k++) {
                        up += w[2][j * r + k] * h[k];
                    }
                    assertEquals(y[t * d + j] + up, got[t * d + j], 1e-5, "token " + t + " dim " + j);
                }
            }
        }
    }

    @Test
    void adaptersCarryAdapterHubsNamesAndFiles() throws Exception {
        Path out = tmp.resolve("adapter");
        float[] before;
        try (Scope job = Scope.open("job")) {
            CausalLM lm = load(job);
            List<Parameter> trainable = new AdapterMethod().apply(lm.module(), AdapterConfig.DEFAULTS, ctx(job));
            assertEquals(5 * 2 * 4, trainable.size(), "5 layers x 2 adapters x (down w, b, up w, b)");
            Map<String, Parameter> named = lm.module().namedParameters();
            assertArrayEquals(new int[] {4, 64}, named.get("model.layers.0.attention_adapters.adapters.default.adapter_down.0.weight").value().shape());
            assertArrayEquals(new int[] {64, 4}, named.get("model.layers.4.output_adapters.adapters.default.adapter_up.weight").value().shape());
            assertEquals(40, named.values().stream().filter(Parameter::trainable).count(), "only the adapters train");
            before = Tensors.toFloats(named.get("model.layers.1.output_adapters.adapters.default.adapter_up.weight").value());
            new AdapterMethod().save(lm.module(), AdapterConfig.DEFAULTS, ctx(job), out);
        }
        try (SafetensorsFile st = SafetensorsFile.open(out.resolve("adapter.safetensors"))) {
            assertEquals(40, st.names().size());
            assertTrue(st.contains("model.layers.3.attention_adapters.adapters.default.adapter_up.bias"));
        }
        JsonNode cfg = new ObjectMapper().readTree(out.resolve("adapter_config.json").toFile());
        assertEquals(16, cfg.path("config").path("reduction_factor").asInt());
        assertEquals("swish", cfg.path("config").path("non_linearity").asText());
        assertTrue(cfg.path("config").path("mh_adapter").asBoolean() && cfg.path("config").path("output_adapter").asBoolean());
        assertEquals(64, cfg.path("hidden_size").asInt());
        assertEquals("LlamaForCausalLM", cfg.path("model_class").asText());
        assertEquals("default", cfg.path("name").asText());
        try (Scope job = Scope.open("job")) {
            CausalLM lm = load(job);
            new AdapterMethod().apply(lm.module(), new AdapterConfig("double_seq_bn", 16, "swish", "default", out.toString()), ctx(job));
            assertArrayEquals(before, Tensors.toFloats(lm.module().namedParameters()
                    .get("model.layers.1.output_adapters.adapters.default.adapter_up.weight").value()), "init_from restores the adapters");
        }
    }
}
