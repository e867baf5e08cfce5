package ai.attune.runtime.setfit;

import ai.attune.api.autograd.Autograd;
import ai.attune.api.autograd.GradMode;
import ai.attune.api.io.SafetensorsReader;
import ai.attune.api.model.ModelConfig;
import ai.attune.api.model.SentenceEncoder;
import ai.attune.api.spi.OptimizerState;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;
import ai.attune.kernels.jvm.JvmBackend;
import ai.attune.plugins.model.bert.BertFamily;
import ai.attune.plugins.optim.adamw.AdamWConfig;
import ai.attune.plugins.optim.adamw.AdamWOptimizer;
import ai.attune.runtime.model.MiniLm;
import ai.attune.runtime.text.Tokenizer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** SetFit on the real all-MiniLM-L6-v2: the contrastive loss goes down, and a saved model predicts as before. */
class SetFitMiniLmTest {
    private static final List<String> TEXTS = List.of(
            "I was charged twice for my subscription", "Please refund the extra payment on my card",
            "Why is my invoice higher this month?", "My card was billed after I cancelled",
            "The app crashes when I open settings", "Export to PDF gives a blank page",
            "Sync stopped working after the update", "I get error 502 when uploading files");
    private static final int[] LABELS = {0, 0, 0, 0, 1, 1, 1, 1};

    @TempDir
    static Path cache;

    private static Path modelDir;

    @BeforeAll
    static void importMiniLm() throws IOException {
        modelDir = MiniLm.materialize(cache);
    }

    private record Loaded(SentenceEmbedder embedder, Tokenizer tokenizer) {}

    private static Loaded load(Path dir, Scope scope) throws IOException {
        JvmBackend backend = new JvmBackend();
        ModelConfig config = ModelConfig.read(dir);
        try (SafetensorsReader weights = SafetensorsReader.openModelDir(dir)) {
            SentenceEncoder enc = (SentenceEncoder) new BertFamily().load(config, weights, backend, DType.F32, scope);
            Tokenizer tok = Tokenizer.load(dir);
            return new Loaded(new SentenceEmbedder(enc, backend, tok::encode, 256), tok);
        }
    }

    /** Mean CosineSimilarityLoss over every unique pair, without gradients. */
    private static double lossOverAllPairs(SentenceEmbedder e) {
        List<PairSampler.Pair> pairs = PairSampler.pairs(LABELS, PairSampler.Strategy.UNIQUE, 0);
        List<String> stacked = new ArrayList<>();
        double[] targets = new double[pairs.size()];
        for (int i = 0; i < pairs.size(); i++) {
            stacked.add(TEXTS.get(pairs.get(i).first()));
            targets[i] = pairs.get(i).label();
        }
        pairs.forEach(p -> stacked.add(TEXTS.get(p.second())));
        try (GradMode.Region ng = GradMode.noGrad(); Scope s = Scope.open("eval")) {
            Tensor both = e.embed(stacked);
            return Tensors.item(CosineSimilarityLoss.lossOfStacked(both, Tensors.of(both.backend(), DType.F32, targets, targets.length)));
        }
    }

    @Test
    void cosineSimilarityLossMatchesAHandComputedValueAndGradient() {
        try (Scope s = Scope.open("loss")) {
            JvmBackend be = new JvmBackend();
            // u1 = (1, 0), v1 = (1, 1): cos = 1/sqrt(2), target 1. u2 = (0, 2), v2 = (3, 0): cos = 0, target 0.
            Tensor u = Tensors.of(be, DType.F64, new double[] {1, 0, 0, 2}, 2, 2).requiresGrad(true);
            Tensor v = Tensors.of(be, DType.F64, new double[] {1, 1, 3, 0}, 2, 2);
            Tensor loss = CosineSimilarityLoss.loss(u, v, Tensors.of(be, DType.F64, new double[] {1, 0}, 2));
            double c = 1 / Math.sqrt(2);
            assertEquals((c - 1) * (c - 1) / 2, Tensors.item(loss), 1e-15);
            Autograd.backward(loss);
            // d/du1 of (cos - 1)^2 / 2 = (cos - 1) * (v/|u||v| - cos * u/|u|^2) = (c - 1) * ((1/sqrt2, 1/sqrt2) - (c, 0))
            // d/du2: (0 - 0) * ... = 0
            assertArrayEquals(new double[] {0, (c - 1) * c, 0, 0}, Tensors.toDoubles(u.grad()), 1e-15);
        }
    }

    @Test
    void trainingLowersTheLossAndASavedModelPredictsTheSame(@TempDir Path tmp) throws IOException {
        try (Scope job = Scope.open("job")) {
            Loaded m = load(modelDir, job);
            double before = lossOverAllPairs(m.embedder());
            AdamWOptimizer adamw = new AdamWOptimizer();
            OptimizerState state = new OptimizerState(job);
            AdamWConfig decay = AdamWConfig.DEFAULTS;
            AdamWConfig noDecay = new AdamWConfig(decay.betas(), decay.eps(), 0.0, false, false);
            // 3 epochs of 8 pairs per step: setfit's settings except the lr, raised so a few steps move the loss clearly.
            BodyTrainer.Config config = new BodyTrainer.Config(8, 3, 1e-4, 0.1, 1.0, PairSampler.Strategy.OVERSAMPLING, 0, 42);
            List<Double> losses = BodyTrainer.train(m.embedder(), TEXTS, LABELS, config,
                    (params, withDecay, lr) -> adamw.step(params, state, withDecay ? decay : noDecay, lr), (step, total, loss) -> { });
            // 36 unique pairs: positives 2 * 10 = 20, negatives 16 -> oversampling 40 pairs, 5 steps per epoch.
            assertEquals(15, losses.size());
            double after = lossOverAllPairs(m.embedder());
            System.out.printf("setfit on MiniLM: loss over all pairs %.4f -> %.4f; step losses %s%n", before, after, losses);
            assertTrue(after < 0.5 * before, "loss over all pairs " + before + " -> " + after);

            List<String> classes = List.of("billing", "technical");
            List<String> labels = new ArrayList<>();
            for (int y : LABELS) {
                labels.add(classes.get(y));
            }
            SetFitClassifier fitted = SetFitClassifier.fit(m.embedder(), TEXTS, labels, n -> { });
            List<String> probe = List.of("refund my payment please", "the screen freezes on startup", "invoice question", "login button broken");
            List<String> predicted = fitted.predict(probe, n -> { });
            double[][] embeddings = m.embedder().encode(probe, 32, n -> { });

            Path out = tmp.resolve("setfit-model");
            SetFitDirectory.write(m.embedder().encoder().module(), 384, modelDir, fitted.head(), out);
            m.tokenizer().close();
            for (String f : List.of("model.safetensors", "config.json", "tokenizer.json", "modules.json", "sentence_bert_config.json",
                    "1_Pooling/config.json", SetFitDirectory.SETFIT_CONFIG, SetFitDirectory.HEAD_FILE)) {
                assertTrue(Files.isRegularFile(out.resolve(f)), f);
            }
            try (Scope again = Scope.open("reloaded")) {
                Loaded reloaded = load(out, again);
                SetFitClassifier back = new SetFitClassifier(reloaded.embedder(), SetFitDirectory.readHead(out));
                assertEquals(predicted, back.predict(probe, n -> { }));
                double[][] e2 = reloaded.embedder().encode(probe, 32, n -> { });
                for (int i = 0; i < probe.size(); i++) {
                    assertArrayEquals(embeddings[i], e2[i], 0.0, "embeddings are bit-identical after reload");
                    assertArrayEquals(fitted.head().probabilities(embeddings[i]), back.head().probabilities(e2[i]), 0.0);
                }
                reloaded.tokenizer().close();
            }
        }
    }
}
