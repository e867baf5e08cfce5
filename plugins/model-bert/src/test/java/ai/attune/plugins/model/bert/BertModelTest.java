package ai.attune.plugins.model.bert;

import ai.attune.api.io.SafetensorsReader;
import ai.attune.api.model.ModelConfig;
import ai.attune.api.nn.DropoutSeeds;
import ai.attune.api.model.SentenceEncoder;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;
import ai.attune.kernels.jvm.JvmBackend;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A random two-layer BERT loaded through {@link BertFamily} from a Hugging Face directory, against
 * {@link ScalarBert}, a scalar double-precision reference written independently in this test.
 */
class BertModelTest {
    private final JvmBackend backend = new JvmBackend();

    @TempDir
    Path dir;

    // Two sequences of different lengths: the second is right-padded (id 0, mask 0) to the first's.
    private static final long[][] IDS = {{2, 17, 5, 29, 11, 3, 8}, {2, 9, 14, 3, 0, 0, 0}};
    private static final long[][] MASK = {{1, 1, 1, 1, 1, 1, 1}, {1, 1, 1, 1, 0, 0, 0}};
    private static final long[][] TYPES = {{0, 0, 0, 1, 1, 1, 1}, {0, 0, 1, 1, 0, 0, 0}};

    private SentenceEncoder load(Path modelDir, DType dtype, Scope scope) throws IOException {
        ModelConfig config = ModelConfig.read(modelDir);
        BertFamily family = new BertFamily();
        assertTrue(family.accepts(config));
        try (SafetensorsReader weights = SafetensorsReader.openModelDir(modelDir)) {
            return (SentenceEncoder) family.load(config, weights, backend, dtype, scope);
        }
    }

    private double[] embed(SentenceEncoder model, long[][] ids, long[][] mask, long[][] types) {
        int b = ids.length;
        int t = ids[0].length;
        try (Scope step = Scope.open("embed")) {
            Tensor out = model.embed(Tensors.ofLongs(backend, flat(ids), b, t),
                    mask == null ? null : Tensors.ofLongs(backend, flat(mask), b, t),
                    types == null ? null : Tensors.ofLongs(backend, flat(types), b, t));
            assertArrayEquals(new int[] {b, TinyBert.HIDDEN}, out.shape());
            return Tensors.toDoubles(out);
        }
    }

    private static long[] flat(long[][] rows) {
        return Arrays.stream(rows).flatMapToLong(Arrays::stream).toArray();
    }

    private static double maxAbsDiff(double[] a, double[] b) {
        assertEquals(a.length, b.length);
        double m = 0;
        for (int i = 0; i < a.length; i++) {
            m = Math.max(m, Math.abs(a[i] - b[i]));
        }
        return m;
    }

    private static double[] reference(TinyBert w) {
        ScalarBert ref = new ScalarBert(w);
        double[] out = new double[IDS.length * TinyBert.HIDDEN];
        for (int b = 0; b < IDS.length; b++) {
            System.arraycopy(ref.embed(IDS[b], MASK[b], TYPES[b]), 0, out, b * TinyBert.HIDDEN, TinyBert.HIDDEN);
        }
        return out;
    }

    @Test
    void matchesTheScalarReferenceOnAPaddedBatch() throws IOException {
        TinyBert w = new TinyBert(7);
        Path modelDir = w.write(dir.resolve("tiny"));
        double[] expected = reference(w);
        try (Scope params = Scope.detached("params")) {
            double f32 = maxAbsDiff(expected, embed(load(modelDir, DType.F32, params), IDS, MASK, TYPES));
            double f64 = maxAbsDiff(expected, embed(load(modelDir, DType.F64, params), IDS, MASK, TYPES));
            System.out.printf("tiny BERT vs scalar reference: max |diff| f32 %.3g, f64 %.3g%n", f32, f64);
            assertTrue(f32 <= 1e-5, "f32 max diff " + f32);
            assertTrue(f64 <= 1e-10, "f64 max diff " + f64);
        }
    }

    @Test
    void hiddenDropoutActsOnlyInTrainingModeWithSeeds() throws IOException {
        TinyBert w = new TinyBert(5);
        Path modelDir = w.write(dir.resolve("tiny-dropout"));
        try (Scope params = Scope.detached("params")) {
            SentenceEncoder model = load(modelDir, DType.F32, params);
            double[] eval = embed(model, IDS, MASK, TYPES);
            model.module().setTraining(true);
            assertArrayEquals(eval, embed(model, IDS, MASK, TYPES), 0.0, "no seeds: dropout is the identity");
            DropoutSeeds seeds = new DropoutSeeds(3);
            model.module().setDropoutSeeds(seeds);
            seeds.startMicroBatch(0, 0);
            double[] dropped = embed(model, IDS, MASK, TYPES);
            assertTrue(maxAbsDiff(eval, dropped) > 1e-3, "hidden_dropout_prob 0.1 changes the embedding in training");
            seeds.startMicroBatch(0, 0);
            assertArrayEquals(dropped, embed(model, IDS, MASK, TYPES), 0.0, "the same seeds draw the same masks");
            seeds.startMicroBatch(1, 0);
            assertTrue(maxAbsDiff(dropped, embed(model, IDS, MASK, TYPES)) > 1e-3, "the next step draws new masks");
            model.module().setTraining(false);
            assertArrayEquals(eval, embed(model, IDS, MASK, TYPES), 0.0, "eval mode: the identity again");
        }
    }

    @Test
    void paddingDoesNotChangeAnEmbedding() throws IOException {
        TinyBert w = new TinyBert(11);
        Path modelDir = w.write(dir.resolve("tiny"));
        try (Scope params = Scope.detached("params")) {
            SentenceEncoder model = load(modelDir, DType.F32, params);
            double[] batch = embed(model, IDS, MASK, TYPES);
            double[] alone = embed(model, new long[][] {{2, 9, 14, 3}}, new long[][] {{1, 1, 1, 1}}, new long[][] {{0, 0, 1, 1}});
            double diff = maxAbsDiff(Arrays.copyOfRange(batch, TinyBert.HIDDEN, 2 * TinyBert.HIDDEN), alone);
            assertTrue(diff <= 1e-6, "padded vs alone " + diff);
            // A null mask means no padding, and null token types mean type 0, as in transformers.
            long[][] ids = {{2, 9, 14, 3}};
            assertArrayEquals(embed(model, ids, new long[][] {{1, 1, 1, 1}}, new long[][] {{0, 0, 0, 0}}), embed(model, ids, null, null), 1e-6);
        }
    }

    @Test
    void taskCheckpointsWithABertPrefixLoadTheSame() throws IOException {
        TinyBert w = new TinyBert(7);
        Path plain = w.write(dir.resolve("plain"));
        Map<String, TinyBert.W> heads = Map.of(
                "bert.pooler.dense.weight", new TinyBert.W(new int[] {TinyBert.HIDDEN, TinyBert.HIDDEN}, new double[TinyBert.HIDDEN * TinyBert.HIDDEN]),
                "bert.pooler.dense.bias", new TinyBert.W(new int[] {TinyBert.HIDDEN}, new double[TinyBert.HIDDEN]),
                "cls.predictions.bias", new TinyBert.W(new int[] {TinyBert.VOCAB}, new double[TinyBert.VOCAB]));
        Path prefixed = w.write(dir.resolve("prefixed"), TinyBert.config(TinyBert.HIDDEN, TinyBert.HEADS, ""),
                n -> "bert." + n, heads);
        try (Scope params = Scope.detached("params")) {
            SentenceEncoder a = load(plain, DType.F32, params);
            SentenceEncoder b = load(prefixed, DType.F32, params);
            assertArrayEquals(embed(a, IDS, MASK, TYPES), embed(b, IDS, MASK, TYPES), 0.0);
        }
    }

    @Test
    void sentenceTransformersModulesChooseThePooling() throws IOException {
        TinyBert w = new TinyBert(5);
        Path modelDir = w.write(dir.resolve("tiny"));
        java.nio.file.Files.createDirectories(modelDir.resolve("1_Pooling"));
        java.nio.file.Files.writeString(modelDir.resolve("modules.json"), """
                [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                 {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]""");
        java.nio.file.Files.writeString(modelDir.resolve("1_Pooling/config.json"), "{\"pooling_mode_cls_token\": true, \"pooling_mode_mean_tokens\": false}");
        try (Scope params = Scope.detached("params"); Scope s = Scope.open()) {
            BertModel model = (BertModel) load(modelDir, DType.F32, params);
            ai.attune.api.tensor.Backend be = model.module().namedParameters().values().iterator().next().value().backend();
            int t = IDS[0].length;
            Tensor ids = ai.attune.api.tensor.Tensors.ofLongs(be, flat(IDS), 2, t);
            Tensor mask = ai.attune.api.tensor.Tensors.ofLongs(be, flat(MASK), 2, t);
            double[] hidden = ai.attune.api.tensor.Tensors.toDoubles(model.forward(ids, mask, null)); // [2, t, h]
            double[] cls = ai.attune.api.tensor.Tensors.toDoubles(model.embed(ids, mask, null)); // [2, h], not normalised
            int h = cls.length / 2;
            for (int b = 0; b < 2; b++) {
                for (int j = 0; j < h; j++) {
                    assertEquals(hidden[(b * t) * h + j], cls[b * h + j], 1e-6, "CLS pooling is token 0 of row " + b);
                }
            }
        }
    }

    @Test
    void aPoolingModelBertDoesNotComputeIsRefusedWithTheFileAndKey() throws IOException {
        TinyBert w = new TinyBert(5);
        Path modelDir = w.write(dir.resolve("tiny"));
        java.nio.file.Files.createDirectories(modelDir.resolve("1_Pooling"));
        java.nio.file.Files.writeString(modelDir.resolve("modules.json"), """
                [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                 {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]""");
        Path cfg = modelDir.resolve("1_Pooling/config.json");
        java.nio.file.Files.writeString(cfg, "{\"pooling_mode_mean_tokens\": false, \"pooling_mode_lasttoken\": true}");
        try (Scope params = Scope.detached("params")) {
            IOException e = org.junit.jupiter.api.Assertions.assertThrows(IOException.class, () -> load(modelDir, DType.F32, params));
            assertEquals("1_Pooling/config.json: pooling_mode_lasttoken is not a pooling model-bert computes; it computes pooling_mode_mean_tokens, "
                    + "pooling_mode_cls_token and pooling_mode_max_tokens", e.getMessage());
            java.nio.file.Files.writeString(cfg, "{\"pooling_mode_cls_token\": true, \"pooling_mode_mean_tokens\": true}");
            e = org.junit.jupiter.api.Assertions.assertThrows(IOException.class, () -> load(modelDir, DType.F32, params));
            assertEquals("1_Pooling/config.json: turns on pooling_mode_cls_token and pooling_mode_mean_tokens, whose outputs sentence-transformers "
                    + "concatenates; model-bert pools one way: keep one of them", e.getMessage());
        }
    }

    @Test
    void parameterNamesAreHuggingFaces() throws IOException {
        TinyBert w = new TinyBert(3);
        try (Scope params = Scope.detached("params")) {
            SentenceEncoder model = load(w.write(dir.resolve("tiny")), DType.F32, params);
            assertEquals(new ArrayList<>(w.weights.keySet()), List.copyOf(model.module().namedParameters().keySet()));
            assertEquals(TinyBert.HIDDEN, model.dimension());
        }
    }

    @Test
    void sublayerOutputsAreTheDenseOutputsBeforeTheResidualAndLayerNorm() throws IOException {
        TinyBert w = new TinyBert(13);
        Path modelDir = w.write(dir.resolve("tiny"));
        try (Scope params = Scope.detached("params")) {
            SentenceEncoder hooked = load(modelDir, DType.F32, params);
            hooked.hooks().setSublayerOutputs(new ai.attune.api.model.ModelHooks.SublayerOutputs() {
                @Override
                public ai.attune.api.tensor.Tensor attention(int layer, ai.attune.api.tensor.Tensor out) {
                    return layer == 0 ? ai.attune.api.autograd.Ops.mulScalar(out, 0) : out;
                }

                @Override
                public ai.attune.api.tensor.Tensor mlp(int layer, ai.attune.api.tensor.Tensor out) {
                    return layer == 1 ? ai.attune.api.autograd.Ops.mulScalar(out, 0) : out;
                }
            });
            // Oracle: the same encoder with those output denses zeroed (dropout is the identity in eval mode).
            SentenceEncoder zeroed = load(modelDir, DType.F32, params);
            var p = zeroed.module().namedParameters();
            for (String name : java.util.List.of("encoder.layer.0.attention.output.dense", "encoder.layer.1.output.dense")) {
                ai.attune.api.tensor.Tensor weight = p.get(name + ".weight").value();
                weight.backend().fill(weight, 0);
                weight.backend().fill(p.get(name + ".bias").value(), 0);
            }
            assertArrayEquals(embed(zeroed, IDS, MASK, TYPES), embed(hooked, IDS, MASK, TYPES), 1e-6);
            assertEquals(2, hooked.hooks().blocks().size());
            org.junit.jupiter.api.Assertions.assertThrows(UnsupportedOperationException.class, () -> hooked.hooks().setVirtualTokens(null));
        }
    }
}
