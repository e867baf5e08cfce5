package ai.attune.runtime.cli;

import ai.attune.api.model.SentenceEncoder;
import ai.attune.api.spi.Kind;
import ai.attune.api.spi.Optimizer;
import ai.attune.api.spi.OptimizerState;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.runtime.data.ClassificationData;
import ai.attune.runtime.data.ClassificationData.LabeledText;
import ai.attune.runtime.data.DataException;
import ai.attune.runtime.host.AttuneRuntime;
import ai.attune.runtime.host.PluginCatalog;
import ai.attune.runtime.host.RuntimeLayout;
import ai.attune.runtime.model.LoadedModel;
import ai.attune.runtime.model.ModelLoader;
import ai.attune.runtime.setfit.BodyTrainer;
import ai.attune.runtime.setfit.ClassificationMetrics;
import ai.attune.runtime.setfit.FewShotSampler;
import ai.attune.runtime.setfit.PairSampler;
import ai.attune.runtime.setfit.SentenceEmbedder;
import ai.attune.runtime.setfit.SetFitClassifier;
import ai.attune.runtime.setfit.SetFitDirectory;
import ai.attune.runtime.setfit.StageProgress;
import com.fasterxml.jackson.databind.ObjectMapper;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * {@code attune setfit}: few-shot text classification with SetFit (Tunstall et al. 2022). Samples
 * {@code --per-class} examples of each class, fine-tunes the sentence-transformer contrastively on
 * pairs of them, fits a logistic-regression head on the new embeddings and scores the eval file;
 * by default it also scores the head on the frozen embeddings, to show what fine-tuning adds.
 */
@Command(name = "setfit", description = "Few-shot text classification: contrastive fine-tuning of a sentence encoder plus a logistic-regression head (SetFit).")
public final class SetfitCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Option(names = "--train", required = true, paramLabel = "FILE", description = "Labelled training texts (.csv with a header, or .jsonl).")
    Path train;

    @Option(names = "--eval", required = true, paramLabel = "FILE", description = "Labelled held-out texts, same format.")
    Path eval;

    @Option(names = "--per-class", defaultValue = "8", paramLabel = "N", description = "Training examples sampled per class (default: ${DEFAULT-VALUE}).")
    int perClass;

    @Option(names = "--model", defaultValue = "all-MiniLM-L6-v2", paramLabel = "DIR|NAME", description = "Sentence-transformer body (default: ${DEFAULT-VALUE}).")
    String model;

    @Option(names = "--seed", defaultValue = "42", description = "Seed of the sampling and the pair order (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--seeds", defaultValue = "1", paramLabel = "N", description = "Repeat with seeds seed .. seed+N-1 and report mean and std (default: ${DEFAULT-VALUE}).")
    int seeds;

    @Option(names = "--out", paramLabel = "DIR", description = "Save the trained model (sentence-transformers directory plus head) here.")
    Path outDir;

    @Option(names = "--text-column", defaultValue = "text", description = "Column of the text (default: ${DEFAULT-VALUE}).")
    String textColumn;

    @Option(names = "--label-column", defaultValue = "label", description = "Column of the class (default: ${DEFAULT-VALUE}).")
    String labelColumn;

    @Option(names = "--no-finetune", description = "Only fit the head on the frozen embeddings (the baseline).")
    boolean noFinetune;

    @Option(names = "--baseline", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "Also score the head on frozen embeddings, side by side (default: on).")
    boolean baseline;

    @Option(names = "--sampling", defaultValue = "oversampling", description = "Pair sampling: oversampling, undersampling or unique (default: ${DEFAULT-VALUE}).")
    String sampling;

    @Option(names = "--num-iterations", defaultValue = "0", description = "Legacy sampler: per sentence and iteration one positive and one negative pair (0 = off).")
    int numIterations;

    @Option(names = "--epochs", defaultValue = "1", description = "Body epochs (default: ${DEFAULT-VALUE}).")
    int epochs;

    @Option(names = "--lr", defaultValue = "2e-5", description = "Body learning rate (default: ${DEFAULT-VALUE}).")
    double lr;

    @Option(names = "--batch-size", defaultValue = "16", description = "Pairs per step (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @Option(names = "--max-length", paramLabel = "TOKENS", description = "Truncate texts to this many tokens (default: the model's max_seq_length).")
    Integer maxLength;

    @Override
    public void run() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        try {
            PairSampler.Strategy strategy = PairSampler.Strategy.of(sampling);
            List<LabeledText> trainRows = load(train);
            List<LabeledText> evalRows = load(eval);
            if (outDir != null && Files.exists(outDir)) {
                throw new IllegalArgumentException(outDir + ": already exists; choose a new --out directory");
            }
            if (seeds < 1) {
                throw new IllegalArgumentException("--seeds must be >= 1, got " + seeds);
            }
            Path modelDir = ModelLoader.resolve(model);
            try (AttuneRuntime rt = AttuneRuntime.boot(RuntimeLayout.fromSystem()); Scope job = Scope.open("setfit")) {
                ModelLoader loader = new ModelLoader(rt.plugins());
                List<String> evalTexts = evalRows.stream().map(LabeledText::text).toList();
                List<String> evalLabels = evalRows.stream().map(LabeledText::label).toList();
                List<double[]> base = new ArrayList<>();
                List<double[]> tuned = new ArrayList<>();
                for (int r = 0; r < seeds; r++) {
                    long s = seed + r;
                    List<LabeledText> shots = FewShotSampler.sample(trainRows, perClass, s, w -> err.println("attune: warning: " + w));
                    if (shots.stream().map(LabeledText::label).distinct().count() < 2) {
                        throw new DataException(train.getFileName() + ": only one class (" + shots.getFirst().label() + "); a classifier needs at least 2");
                    }
                    List<String> texts = shots.stream().map(LabeledText::text).toList();
                    List<String> labels = shots.stream().map(LabeledText::label).toList();
                    if (r == 0) {
                        err.printf("setfit: %d training examples (%d per class, seed %d), %d eval examples, model %s%n",
                                texts.size(), perClass, s, evalTexts.size(), model);
                    }
                    try (Scope run = Scope.open("setfit-run"); var m = new Closing(loader.load(modelDir, null, loader.backend(null), DType.F32, run))) {
                        SentenceEmbedder body = embedder(m.model());
                        if (baseline || noFinetune) {
                            SetFitClassifier frozen = fitAndScore("baseline", body, texts, labels, evalTexts, evalLabels, base, seeds == 1, out, err);
                            if (noFinetune && r == seeds - 1 && outDir != null) {
                                save(m.model(), body, modelDir, frozen, err);
                            }
                        }
                        if (!noFinetune) {
                            trainBody(rt.plugins(), body, texts, labels, s, strategy, run, err);
                            SetFitClassifier fitted = fitAndScore("setfit", body, texts, labels, evalTexts, evalLabels, tuned, seeds == 1, out, err);
                            if (outDir != null && r == seeds - 1) {
                                save(m.model(), body, modelDir, fitted, err);
                            }
                        }
                    }
                }
                summary(base, tuned, out);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e.getMessage(), e);
        }
    }

    /** A loaded model whose tokenizer is closed with it. */
    private record Closing(LoadedModel model) implements AutoCloseable {
        @Override
        public void close() {
            model.tokenizer().close();
        }
    }

    private void save(LoadedModel m, SentenceEmbedder body, Path modelDir, SetFitClassifier c, PrintWriter err) throws IOException {
        SetFitDirectory.write(m.module(), body.encoder().dimension(), modelDir, c.head(), outDir);
        err.println("setfit: saved to " + outDir);
    }

    private List<LabeledText> load(Path file) throws IOException {
        ClassificationData data = ClassificationData.load(file, textColumn, labelColumn);
        for (LabeledText r : data.rows()) {
            if (r.text().isBlank()) {
                throw new DataException(file, r.line(), "\"" + textColumn + "\" is empty; every row needs a text");
            }
        }
        return data.rows();
    }

    private SentenceEmbedder embedder(LoadedModel m) throws IOException {
        if (!(m.module() instanceof SentenceEncoder enc)) {
            throw new IllegalArgumentException(model + " is not a sentence encoder (model_type " + m.config().modelType() + ")");
        }
        int len = maxLength != null ? maxLength : maxSeqLength(m);
        return new SentenceEmbedder(enc, m.backend(), m.tokenizer()::encode, len);
    }

    @SuppressWarnings("unchecked")
    private void trainBody(PluginCatalog catalog, SentenceEmbedder body, List<String> texts, List<String> labels, long s,
                           PairSampler.Strategy strategy, Scope run, PrintWriter err) {
        Optimizer<Object> adamw = catalog.find(Kind.OPTIMIZER, "adamw", Optimizer.class).orElseThrow(() ->
                new IllegalStateException("the adamw optimizer plugin is not installed; installed: "
                        + catalog.list(Kind.OPTIMIZER).stream().map(PluginCatalog.Entry::name).toList()));
        ObjectMapper json = new ObjectMapper();
        Object decay = json.convertValue(Map.of("weight_decay", 0.01), adamw.configType());
        Object noDecay = json.convertValue(Map.of("weight_decay", 0.0), adamw.configType());
        OptimizerState state = new OptimizerState(run);
        BodyTrainer.Config config = new BodyTrainer.Config(batchSize, epochs, lr, 0.1, 1.0, strategy, numIterations, s);
        List<String> classes = new ArrayList<>(new TreeSet<>(labels));
        int[] y = SetFitClassifier.indices(labels, classes);
        int pairs = BodyTrainer.pairs(y, config).size();
        try (StageProgress p = new StageProgress("setfit body", BodyTrainer.totalSteps(pairs, config), err)) {
            BodyTrainer.train(body, texts, y, config, (params, withDecay, rate) -> adamw.step(params, state, withDecay ? decay : noDecay, rate),
                    (step, total, loss) -> p.advance(1, String.format("loss %.4f", loss)));
        }
    }

    private SetFitClassifier fitAndScore(String name, SentenceEmbedder body, List<String> texts, List<String> labels, List<String> evalTexts,
                                         List<String> evalLabels, List<double[]> scores, boolean details, PrintWriter out, PrintWriter err) {
        SetFitClassifier c;
        List<String> predicted;
        try (StageProgress p = new StageProgress(name + " embed", texts.size() + evalTexts.size(), err)) {
            c = SetFitClassifier.fit(body, texts, labels, n -> p.advance(n, null));
            predicted = c.predict(evalTexts, n -> p.advance(n, null));
        }
        TreeSet<String> all = new TreeSet<>(c.head().classes());
        all.addAll(evalLabels);
        List<String> classes = new ArrayList<>(all);
        ClassificationMetrics m = ClassificationMetrics.of(classes, SetFitClassifier.indices(evalLabels, classes), SetFitClassifier.indices(predicted, classes));
        scores.add(new double[] {m.accuracy(), m.macroF1()});
        if (details) {
            out.printf("%n%s: accuracy %.4f, macro-F1 %.4f on %d eval examples%n%s", name, m.accuracy(), m.macroF1(), evalTexts.size(), m.confusionTable());
        } else {
            out.printf("%s seed %d: accuracy %.4f, macro-F1 %.4f%n", name, seed + scores.size() - 1, m.accuracy(), m.macroF1());
        }
        out.flush();
        return c;
    }

    /** Baseline and SetFit side by side; mean ± std (sample std, n-1) over seeds when there are several. */
    private void summary(List<double[]> base, List<double[]> tuned, PrintWriter out) {
        out.printf("%n%-28s %-20s %-20s%n", "", "accuracy", "macro-F1");
        if (!base.isEmpty()) {
            out.printf("%-28s %-20s %-20s%n", "baseline (frozen + head)", stat(base, 0), stat(base, 1));
        }
        if (!tuned.isEmpty()) {
            out.printf("%-28s %-20s %-20s%n", "setfit (fine-tuned + head)", stat(tuned, 0), stat(tuned, 1));
        }
        out.flush();
    }

    private static String stat(List<double[]> runs, int k) {
        double mean = runs.stream().mapToDouble(r -> r[k]).average().orElse(0);
        if (runs.size() == 1) {
            return String.format("%.4f", mean);
        }
        double ss = runs.stream().mapToDouble(r -> (r[k] - mean) * (r[k] - mean)).sum();
        return String.format("%.4f ± %.4f", mean, Math.sqrt(ss / (runs.size() - 1)));
    }

    /** sentence-transformers' {@code max_seq_length} when the directory has it, else the position limit. */
    static int maxSeqLength(LoadedModel m) throws IOException {
        Path st = m.config().dir().resolve("sentence_bert_config.json");
        if (Files.exists(st)) {
            int n = new ObjectMapper().readTree(Files.readString(st)).path("max_seq_length").asInt(0);
            if (n > 0) {
                return n;
            }
        }
        return m.config().intOr("max_position_embeddings", 512);
    }
}
