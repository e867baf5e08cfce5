package ai.attune.runtime.classify;

import ai.attune.api.io.SafetensorsReader;
import ai.attune.api.model.ModelConfig;
import ai.attune.api.nn.Module;
import ai.attune.api.spi.TextClassifier;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.kernels.jvm.JvmBackend;
import ai.attune.plugins.model.bert.BertFamily;
import ai.attune.plugins.optim.adamw.AdamWOptimizer;
import ai.attune.plugins.setfit.SetFitConfig;
import ai.attune.plugins.setfit.SetFitMethod;
import ai.attune.runtime.model.LoadedModel;
import ai.attune.runtime.model.OnnxEncoderImporter;
import ai.attune.runtime.model.PretrainedEncoders;
import ai.attune.runtime.text.Tokenizer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * SetFit through its plugin interface and the host's context on the real all-MiniLM-L6-v2: the contrastive loss goes down,
 * and a saved model, reloaded, predicts the same probabilities bit for bit, for both heads.
 */
class SetFitMiniLmTest {
    private static final List<String> TEXTS = List.of(
            "I was charged twice for my subscription", "Please refund the extra payment on my card",
            "Why is my invoice higher this month?", "My card was billed after I cancelled",
            "The app crashes when I open settings", "Export to PDF gives a blank page",
            "Sync stopped working after the update", "I get error 502 when uploading files");
    private static final List<String> LABELS = List.of("billing", "billing", "billing", "billing", "technical", "technical", "technical", "technical");
    private static final List<String> PROBE = List.of("refund my payment please", "the screen freezes on startup", "invoice question", "login button broken");

    @TempDir
    static Path cache;

    private static Path modelDir;

    @BeforeAll
    static void importMiniLm() throws IOException {
        modelDir = OnnxEncoderImporter.materialize(PretrainedEncoders.ALL_MINILM_L6_V2, cache);
    }

    /** The host's context over MiniLM loaded from {@code dir}, with the AdamW plugin; progress lines go to {@code log}. */
    private static HostClassifierContext context(Path dir, Scope scope, StringWriter log) throws IOException {
        JvmBackend backend = new JvmBackend();
        ModelConfig config = ModelConfig.read(dir);
        Module module;
        try (SafetensorsReader weights = SafetensorsReader.openModelDir(dir)) {
            module = new BertFamily().load(config, weights, backend, DType.F32, scope);
        }
        LoadedModel model = new LoadedModel(module, config, Tokenizer.load(dir), backend, Set.of());
        return new HostClassifierContext(model, dir.toString(), scope, name -> new AdamWOptimizer(), new PrintWriter(log, true), "setfit", () -> Double.NaN);
    }

    /** The body's step losses from the progress lines ("setfit body 3/15 loss 0.1234"). */
    private static List<Double> losses(StringWriter log) {
        return log.toString().lines().filter(l -> l.startsWith("setfit body ")).map(l -> Double.parseDouble(l.substring(l.indexOf("loss ") + 5))).toList();
    }

    private static SetFitConfig config(int bodyEpochs, double bodyLr, boolean differentiable) {
        SetFitConfig d = SetFitConfig.DEFAULTS;
        return new SetFitConfig(List.of(8, 2), List.of(bodyEpochs, 16), List.of(bodyLr, 1e-5), d.headLearningRate(), d.l2Weight(), -1,
                d.samplingStrategy(), null, d.loss(), d.distanceMetric(), d.margin(), 2, 0.1, 1.0, false, differentiable, null, 42);
    }

    @Test
    void trainingLowersTheLossAndASavedModelPredictsTheSame(@TempDir Path tmp) throws IOException {
        SetFitMethod setfit = new SetFitMethod();
        for (boolean differentiable : new boolean[] {false, true}) {
            Path out = tmp.resolve("setfit-" + differentiable);
            double[][] probabilities;
            List<String> predicted;
            try (Scope job = Scope.open("job")) {
                StringWriter log = new StringWriter();
                HostClassifierContext ctx = context(modelDir, job, log);
                // 3 epochs of 8 pairs per step: setfit's settings except the lr, raised so a few steps move the loss clearly.
                // 36 unique pairs: positives 2 * 10 = 20, negatives 16 -> oversampling 40 pairs, 5 steps per epoch.
                TextClassifier fitted = setfit.fit(TEXTS, LABELS, config(differentiable ? 0 : 3, 1e-4, differentiable), ctx);
                if (!differentiable) {
                    List<Double> losses = losses(log);
                    assertEquals(15, losses.size());
                    double first = (losses.get(0) + losses.get(1)) / 2;
                    double last = (losses.get(13) + losses.get(14)) / 2;
                    System.out.printf("setfit on MiniLM: step losses %s%n", losses);
                    assertTrue(last < 0.5 * first, "loss " + first + " -> " + last);
                }
                assertEquals(LABELS, fitted.predict(TEXTS, n -> { }), "the training texts are fitted");
                probabilities = fitted.predictProba(PROBE, n -> { });
                predicted = fitted.predict(PROBE, n -> { });
                fitted.save(out);
            }
            for (String f : List.of("model.safetensors", "config.json", "tokenizer.json", "modules.json", "sentence_bert_config.json",
                    "1_Pooling/config.json", "config_setfit.json", "model_head.json")) {
                assertTrue(Files.isRegularFile(out.resolve(f)), f);
            }
            try (Scope again = Scope.open("reloaded")) {
                TextClassifier back = setfit.load(out, context(out, again, new StringWriter()));
                assertEquals(predicted, back.predict(PROBE, n -> { }));
                double[][] p2 = back.predictProba(PROBE, n -> { });
                for (int i = 0; i < PROBE.size(); i++) {
                    assertArrayEquals(probabilities[i], p2[i], 0.0, "probabilities are bit-identical after reload");
                }
            }
        }
    }

    /**
     * What lets ClassifierRun embed the eval set once for every seed's baseline: a frozen-body classifier, fitted on a
     * fresh load with another seed and other few-shot texts, embeds the same texts bit for bit as the first one did.
     */
    @Test
    void frozenBodyEmbeddingsDependOnNeitherTheSeedNorTheSample() throws IOException {
        SetFitMethod setfit = new SetFitMethod();
        double[][][] embedded = new double[2][][];
        for (int run = 0; run < 2; run++) {
            try (Scope job = Scope.open("run-" + run)) {
                HostClassifierContext ctx = context(modelDir, job, new StringWriter());
                SetFitConfig c = config(1, 2e-5, false);
                SetFitConfig seeded = new SetFitConfig(c.batchSize(), c.numEpochs(), c.bodyLearningRate(), c.headLearningRate(), c.l2Weight(), c.maxSteps(),
                        c.samplingStrategy(), c.numIterations(), c.loss(), c.distanceMetric(), c.margin(), c.samplesPerLabel(), c.warmupProportion(),
                        c.maxGradNorm(), c.endToEnd(), c.useDifferentiableHead(), c.maxLength(), 42 + run);
                List<Integer> shots = run == 0 ? List.of(0, 1, 4, 5) : List.of(2, 3, 6, 7);
                TextClassifier frozen = setfit.fit(shots.stream().map(TEXTS::get).toList(), shots.stream().map(LABELS::get).toList(),
                        setfit.frozenBody(seeded), ctx);
                embedded[run] = frozen.embed(PROBE, n -> { });
            }
        }
        for (int i = 0; i < PROBE.size(); i++) {
            assertArrayEquals(embedded[0][i], embedded[1][i], 0.0, PROBE.get(i));
        }
    }
}
