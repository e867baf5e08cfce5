package ai.attune.plugins.setfit;

import ai.attune.api.autograd.GradMode;
import ai.attune.api.spi.TrainingThroughput;
import ai.attune.api.spi.TextClassifier;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;
import ai.attune.kernels.jvm.JvmBackend;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every body loss and the differentiable head on a toy encoder: the classes come apart, and a head
 * on a body whose classes are linearly separable fits them.
 */
class SetFitToyTest {
    private static final JvmBackend BE = new JvmBackend();

    /** 8 texts of class "a" from tokens 0-9, 8 of class "b" from tokens 10-19, 4 tokens each. */
    private static List<String> texts(long seed, List<String> labels) {
        Random r = new Random(seed);
        List<String> out = new ArrayList<>();
        for (int i = 0; i < 16; i++) {
            int base = i < 8 ? 0 : 10;
            StringBuilder sb = new StringBuilder();
            for (int k = 0; k < 4; k++) {
                sb.append(base + r.nextInt(10)).append(' ');
            }
            out.add(sb.toString().trim());
            labels.add(i < 8 ? "a" : "b");
        }
        return out;
    }

    /** Mean cosine of same-class pairs minus that of different-class pairs. */
    private static double separation(ToyEncoder enc, List<String> texts) {
        SentenceEmbedder e = new SentenceEmbedder(enc, BE, ToyEncoder::tokenize, 64);
        try (GradMode.Region ng = GradMode.noGrad(); Scope s = Scope.open("eval")) {
            Tensor x = e.embed(texts);
            double[] c = Tensors.toDoubles(TripletDistance.cosineSimilarity(x, x));
            double same = 0, diff = 0;
            for (int i = 0; i < 16; i++) {
                for (int j = 0; j < 16; j++) {
                    if (i != j) {
                        if ((i < 8) == (j < 8)) {
                            same += c[i * 16 + j] / (16 * 7);
                        } else {
                            diff += c[i * 16 + j] / (16 * 8);
                        }
                    }
                }
            }
            return same - diff;
        }
    }

    @Test
    void everyBodyLossSeparatesTheClasses() {
        for (ContrastiveLoss loss : ContrastiveLoss.values()) {
            try (Scope scope = Scope.open("job")) {
                ToyEncoder enc = new ToyEncoder(BE, scope, 1, 0);
                List<String> labels = new ArrayList<>();
                List<String> texts = texts(2, labels);
                double before = separation(enc, texts);
                SetFitConfig c = SetFitConfig.DEFAULTS;
                SetFitConfig config = new SetFitConfig(List.of(8, 2), List.of(20, 16), List.of(5e-2, 1e-5), c.headLearningRate(), c.l2Weight(),
                        -1, c.samplingStrategy(), null, loss.className(), c.distanceMetric(), c.margin(), 2, 0.1, 1.0, false, false, null, 3);
                int[] y = labels.stream().mapToInt(l -> l.equals("a") ? 0 : 1).toArray();
                BodyTrainer trainer = new BodyTrainer(y, config);
                List<Double> losses = trainer.train(new SentenceEmbedder(enc, BE, ToyEncoder::tokenize, 64), texts,
                        new Optimizers(ToyEncoder.context(enc, BE, scope)), (s, t, l) -> { }).losses();
                assertEquals(trainer.totalSteps(), losses.size());
                double after = separation(enc, texts);
                System.out.printf("%s: separation %.3f -> %.3f, loss %.4f -> %.4f over %d steps%n", loss.className(), before, after,
                        losses.getFirst(), losses.getLast(), losses.size());
                assertTrue(after > before + 0.2, loss.className() + ": separation " + before + " -> " + after);
            }
        }
    }

    @Test
    void bodyTrainingCountsItsTokensAndParameters() {
        try (Scope scope = Scope.open("job")) {
            ToyEncoder enc = new ToyEncoder(BE, scope, 1, 0);
            // Texts of 1, 2, 3 and 4 tokens in two labels of 2: a triplet loss with 2 samples per label draws all 4 into one
            // batch (min(batch 16, 4 texts)), so each of the 3 epochs is one step of 10 tokens padded to 4 x 4 = 16.
            List<String> texts = List.of("1", "2 3", "11 12 13", "14 15 16 17");
            SetFitConfig c = SetFitConfig.DEFAULTS;
            SetFitConfig config = new SetFitConfig(List.of(16, 2), List.of(3, 16), c.bodyLearningRate(), c.headLearningRate(), c.l2Weight(),
                    -1, c.samplingStrategy(), null, "BatchAllTripletLoss", c.distanceMetric(), c.margin(), 2, 0.1, 1.0, false, false, null, 3);
            BodyTrainer.Result r = new BodyTrainer(new int[] {0, 0, 1, 1}, config).train(new SentenceEmbedder(enc, BE, ToyEncoder::tokenize, 64),
                    texts, new Optimizers(ToyEncoder.context(enc, BE, scope)), (s, t, l) -> { });
            TrainingThroughput t = r.throughput();
            assertEquals(3, t.steps());
            assertEquals(30, t.tokens());
            assertEquals(48, t.paddedTokens());
            assertEquals(0, t.parameters(), "the toy encoder is one embedding table: looked up, nothing multiplies");
            assertTrue(t.seconds() > 0);
            assertEquals(48 / t.seconds(), t.paddedTokensPerSecond(), 1e-9 * t.paddedTokensPerSecond());
        }
    }

    @Test
    void pairAndTripletStepCounts() {
        int[] y = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1};
        SetFitConfig c = SetFitConfig.DEFAULTS;
        // oversampling: 72 positives and 72 negatives -> 144 pairs, 9 batches of 16.
        assertEquals(9, new BodyTrainer(y, c).totalSteps());
        // MultipleNegativesRankingLoss keeps the 72 positive pairs: 5 batches.
        SetFitConfig mnrl = new SetFitConfig(c.batchSize(), c.numEpochs(), c.bodyLearningRate(), c.headLearningRate(), c.l2Weight(), -1,
                c.samplingStrategy(), null, "MultipleNegativesRankingLoss", c.distanceMetric(), c.margin(), 2, 0.1, 1.0, false, false, null, 42);
        assertEquals(5, new BodyTrainer(y, mnrl).totalSteps());
        // Triplet losses: 16 texts in label groups, batch min(16, 16), drop_last: one batch an epoch.
        SetFitConfig hard = new SetFitConfig(c.batchSize(), List.of(3, 16), c.bodyLearningRate(), c.headLearningRate(), c.l2Weight(), -1,
                c.samplingStrategy(), null, "BatchHardTripletLoss", c.distanceMetric(), c.margin(), 2, 0.1, 1.0, false, false, null, 42);
        assertEquals(3, new BodyTrainer(y, hard).totalSteps());
    }

    @Test
    void differentiableHeadLearnsFrozenAndEndToEnd() {
        for (boolean endToEnd : new boolean[] {false, true}) {
            try (Scope scope = Scope.open("job")) {
                ToyEncoder enc = new ToyEncoder(BE, scope, 5, 1.5);
                List<String> labels = new ArrayList<>();
                List<String> texts = texts(6, labels);
                double[] before = Tensors.toDoubles(enc.namedParameters().get("embeddings.weight").value());
                SetFitConfig c = SetFitConfig.DEFAULTS;
                SetFitConfig config = new SetFitConfig(c.batchSize(), List.of(0, 16), List.of(2e-5, 1e-2), c.headLearningRate(), c.l2Weight(),
                        -1, c.samplingStrategy(), null, c.loss(), c.distanceMetric(), c.margin(), 2, 0.1, 1.0, endToEnd, true, null, 9);
                TextClassifier fitted = new SetFitMethod().fit(texts, labels, config, ToyEncoder.context(enc, BE, scope));
                assertEquals(labels, fitted.predict(texts, n -> { }), "end_to_end " + endToEnd);
                double[] after = Tensors.toDoubles(enc.namedParameters().get("embeddings.weight").value());
                assertEquals(endToEnd, !java.util.Arrays.equals(before, after), "the body moves only end to end");
                for (double[] p : fitted.predictProba(texts, n -> { })) {
                    assertEquals(1.0, p[0] + p[1], 1e-12);
                }
            }
        }
    }
}
