package ai.attune.plugins.model.gpt2;

import ai.attune.api.io.SafetensorsFile;
import ai.attune.api.model.KvCache;
import ai.attune.api.model.ModelConfig;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;
import ai.attune.kernels.jvm.JvmBackend;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** GPT2LMHeadModel loaded from a tiny random HF checkpoint, against {@link Gpt2Reference} in double. */
class Gpt2LMHeadModelTest {
    static final long[] IDS = {5, 17, 0, 36, 9, 9, 22, 3, 30};

    private final JvmBackend backend = new JvmBackend();

    static Gpt2LMHeadModel load(Path dir, JvmBackend backend, Scope scope) throws IOException {
        try (SafetensorsFile weights = SafetensorsFile.open(dir.resolve("model.safetensors"))) {
            return assertInstanceOf(Gpt2LMHeadModel.class,
                    new Gpt2Family().load(ModelConfig.read(dir), weights, backend, DType.F32, scope));
        }
    }

    static Stream<Arguments> layouts() {
        return Stream.of(
                Arguments.of("transformer. prefix, tied head", true, TinyGpt2.standard(1)),
                Arguments.of("bare OpenAI names + attn.bias buffers, tied head", false, TinyGpt2.standard(2)),
                Arguments.of("untied lm_head, relu, scale_attn_by_inverse_layer_idx", true, new TinyGpt2(3, false, "relu", true)));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("layouts")
    void logitsMatchTheDoubleReference(String name, boolean prefixed, TinyGpt2 tiny, @TempDir Path dir) throws IOException {
        tiny.write(dir, prefixed);
        double[][] expected = new Gpt2Reference(tiny).logits(IDS, null);
        try (Scope scope = Scope.open()) {
            Gpt2LMHeadModel model = load(dir, backend, scope);
            Tensor logits = model.forward(Tensors.ofLongs(backend, IDS, 1, IDS.length), null, null);
            assertEquals(List.of(1, IDS.length, TinyGpt2.VOCAB), List.of(logits.size(0), logits.size(1), logits.size(2)));
            double diff = maxDiff(expected, Tensors.toDoubles(logits), 0);
            System.out.printf("gpt2 [%s]: max |logits - reference| = %.3g%n", name, diff);
            assertTrue(diff <= 1e-4, "max abs diff " + diff);
        }
    }

    @Test
    void parameterNamesAreTransformersNames(@TempDir Path dir) throws IOException {
        TinyGpt2 tiny = new TinyGpt2(4, false, "gelu_new", false);
        tiny.write(dir, true);
        try (Scope scope = Scope.open()) {
            Gpt2LMHeadModel model = load(dir, backend, scope);
            assertEquals(new TreeSet<>(tiny.checkpoint(true).keySet()), new TreeSet<>(model.namedParameters().keySet()));
            assertInstanceOf(Conv1D.class, model.namedModules().get("transformer.h.0.attn.c_attn"));
            assertInstanceOf(Conv1D.class, model.namedModules().get("transformer.h.1.mlp.c_proj"));
            assertEquals(List.of(16, 48), List.of(model.namedParameters().get("transformer.h.0.attn.c_attn.weight").value().shape()[0],
                    model.namedParameters().get("transformer.h.0.attn.c_attn.weight").value().shape()[1]));
        }
    }

    @Test
    void tiedHeadRegistersTheEmbeddingOnce(@TempDir Path dir) throws IOException {
        TinyGpt2 tiny = TinyGpt2.standard(5);
        tiny.write(dir, true);
        try (Scope scope = Scope.open()) {
            Set<String> names = load(dir, backend, scope).namedParameters().keySet();
            assertTrue(names.contains("transformer.wte.weight"));
            assertTrue(names.stream().noneMatch(n -> n.startsWith("lm_head")), names.toString());
        }
    }

    @Test
    void leftPaddedBatchMatchesTheReferenceOnRealTokens(@TempDir Path dir) throws IOException {
        TinyGpt2 tiny = TinyGpt2.standard(6);
        tiny.write(dir, true);
        int t = IDS.length;
        long[] padded = {0, 0, 0, 11, 12, 13, 14, 15, 16};
        long[] mask = {0, 0, 0, 1, 1, 1, 1, 1, 1};
        long[] full = new long[t];
        java.util.Arrays.fill(full, 1);
        long[] ids = new long[2 * t];
        long[] keyMask = new long[2 * t];
        System.arraycopy(IDS, 0, ids, 0, t);
        System.arraycopy(padded, 0, ids, t, t);
        System.arraycopy(full, 0, keyMask, 0, t);
        System.arraycopy(mask, 0, keyMask, t, t);
        Gpt2Reference ref = new Gpt2Reference(tiny);
        try (Scope scope = Scope.open()) {
            Gpt2LMHeadModel model = load(dir, backend, scope);
            double[] logits = Tensors.toDoubles(model.forward(Tensors.ofLongs(backend, ids, 2, t), Tensors.ofLongs(backend, keyMask, 2, t), null));
            double d0 = maxDiff(ref.logits(IDS, full), logits, 0);
            double[][] expected1 = ref.logits(padded, mask);
            double d1 = 0;
            for (int i = 3; i < t; i++) { // only the real tokens: a pad query sees no key at all
                for (int v = 0; v < TinyGpt2.VOCAB; v++) {
                    d1 = Math.max(d1, Math.abs(expected1[i][v] - logits[(t + i) * TinyGpt2.VOCAB + v]));
                }
            }
            System.out.printf("gpt2 left-padded batch: max |logits - reference| = %.3g, %.3g%n", d0, d1);
            assertTrue(d0 <= 1e-4 && d1 <= 1e-4, d0 + " " + d1);
        }
    }

    @Test
    void kvCacheDecodingEqualsOneFullForward(@TempDir Path dir) throws IOException {
        TinyGpt2 tiny = TinyGpt2.standard(7);
        tiny.write(dir, false);
        int t = IDS.length;
        int prefix = 4;
        try (Scope scope = Scope.open()) {
            Gpt2LMHeadModel model = load(dir, backend, scope);
            double[] full = Tensors.toDoubles(model.forward(Tensors.ofLongs(backend, IDS, 1, t), null, null));
            KvCache cache = model.newCache(1, TinyGpt2.N_POSITIONS, scope);
            List<double[]> steps = new ArrayList<>();
            steps.add(Tensors.toDoubles(model.forward(Tensors.ofLongs(backend, java.util.Arrays.copyOf(IDS, prefix), 1, prefix), null, cache)));
            for (int i = prefix; i < t; i++) {
                steps.add(Tensors.toDoubles(model.forward(Tensors.ofLongs(backend, new long[] {IDS[i]}, 1, 1), null, cache)));
            }
            assertEquals(t, cache.length());
            double[] incremental = steps.stream().flatMapToDouble(java.util.Arrays::stream).toArray();
            assertEquals(full.length, incremental.length);
            double diff = 0;
            for (int i = 0; i < full.length; i++) {
                diff = Math.max(diff, Math.abs(full[i] - incremental[i]));
            }
            System.out.printf("gpt2 kv cache: max |full - incremental| = %.3g%n", diff);
            assertTrue(diff <= 1e-5, "max abs diff " + diff);
        }
    }

    @Test
    void positionsBeyondNPositionsAreRefused(@TempDir Path dir) throws IOException {
        TinyGpt2.standard(8).write(dir, true);
        try (Scope scope = Scope.open()) {
            Gpt2LMHeadModel model = load(dir, backend, scope);
            Tensor ids = Tensors.ofLongs(backend, new long[TinyGpt2.N_POSITIONS + 1], 1, TinyGpt2.N_POSITIONS + 1);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> model.forward(ids, null, null));
            assertTrue(e.getMessage().contains("n_positions"), e.getMessage());
        }
    }

    @Test
    void familyAcceptsGpt2Configs(@TempDir Path dir) {
        Gpt2Family family = new Gpt2Family();
        assertTrue(family.accepts(ModelConfig.of(dir, TinyGpt2.standard(9).config())));
        var bert = TinyGpt2.standard(9).config().put("model_type", "bert");
        bert.putArray("architectures").add("BertModel");
        assertTrue(!family.accepts(ModelConfig.of(dir, bert)));
    }

    /** Largest |expected[i][v] - actual[(row0 + i) * vocab + v]|. */
    static double maxDiff(double[][] expected, double[] actual, int row0) {
        double max = 0;
        for (int i = 0; i < expected.length; i++) {
            for (int v = 0; v < expected[i].length; v++) {
                max = Math.max(max, Math.abs(expected[i][v] - actual[(row0 + i) * expected[i].length + v]));
            }
        }
        return max;
    }
}
