package ai.attune.plugins.model.llama;

import ai.attune.api.autograd.GradMode;
import ai.attune.api.io.SafetensorsReader;
import ai.attune.api.model.CausalLM;
import ai.attune.api.model.KvCache;
import ai.attune.api.model.ModelConfig;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;
import ai.attune.kernels.jvm.JvmBackend;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** The real pretrained stories260K: its known greedy continuation of BOS (see ../shared/models/README.md). */
class PretrainedTinyLlamaTest {
    static final Path DIR = Path.of("../../../shared/models/stories260K");
    static final long[] GOLDEN = {403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338, 401, 396, 267, 337,
            410, 408, 419, 292, 411, 322, 265, 282, 295, 433, 426, 385, 328, 432, 358, 394, 261, 370, 432, 352, 266, 268, 388, 426,
            338, 391, 266, 267, 337, 335, 312, 432, 398, 312, 286, 267, 414, 270, 333, 415};

    @Test
    void greedyDecodingFromBosReproducesTheKnownStory() throws Exception {
        JvmBackend be = new JvmBackend();
        try (Scope job = Scope.open("job"); SafetensorsReader w = SafetensorsReader.openModelDir(DIR);
             GradMode.Region ng = GradMode.noGrad()) {
            CausalLM lm = (CausalLM) new LlamaFamily().load(ModelConfig.read(DIR), w, be, DType.F32, job);
            KvCache cache = lm.newCache(1, 64, job);
            List<Long> out = new ArrayList<>();
            long next = 1; // BOS
            for (int i = 0; i < GOLDEN.length; i++) {
                try (Scope step = Scope.open("step")) {
                    Tensor logits = lm.forward(Tensors.ofLongs(be, new long[] {next}, 1, 1), null, cache); // [1, 1, vocab]
                    next = argmax(Tensors.toDoubles(logits));
                    out.add(next);
                }
            }
            assertArrayEquals(GOLDEN, out.stream().mapToLong(Long::longValue).toArray());
        }
    }

    @Test
    void oneShotLogitsEqualIncrementalDecoding() throws Exception {
        JvmBackend be = new JvmBackend();
        try (Scope job = Scope.open("job"); SafetensorsReader w = SafetensorsReader.openModelDir(DIR);
             GradMode.Region ng = GradMode.noGrad()) {
            CausalLM lm = (CausalLM) new LlamaFamily().load(ModelConfig.read(DIR), w, be, DType.F32, job);
            long[] ids = {1, 403, 407, 261, 378, 432, 383, 286};
            double[] full = Tensors.toDoubles(lm.forward(Tensors.ofLongs(be, ids, 1, ids.length), null, null)); // [1, 8, 512]
            KvCache cache = lm.newCache(1, 16, job);
            lm.forward(Tensors.ofLongs(be, new long[] {1, 403, 407}, 1, 3), null, cache);
            for (int i = 3; i < ids.length; i++) {
                double[] step = Tensors.toDoubles(lm.forward(Tensors.ofLongs(be, new long[] {ids[i]}, 1, 1), null, cache));
                for (int v = 0; v < 512; v++) {
                    assertEquals(full[i * 512 + v], step[v], 1e-4, "position " + i + " logit " + v);
                }
            }
        }
    }

    static long argmax(double[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) {
            if (v[i] > v[best]) {
                best = i;
            }
        }
        return best;
    }

}
