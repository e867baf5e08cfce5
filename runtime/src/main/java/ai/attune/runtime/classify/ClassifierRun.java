package ai.attune.runtime.classify;

import ai.attune.api.data.DataException;
import ai.attune.api.spi.ClassifierMethod;
import ai.attune.api.spi.Kind;
import ai.attune.api.spi.Optimizer;
import ai.attune.api.spi.TextClassifier;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.runtime.data.ClassificationData;
import ai.attune.runtime.data.ClassificationData.LabeledText;
import ai.attune.runtime.host.PluginCatalog;
import ai.attune.runtime.model.LoadedModel;
import ai.attune.runtime.model.ModelLoader;
import ai.attune.runtime.train.RecipeLoader;
import ai.attune.runtime.train.StageProgress;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.function.DoubleSupplier;

/**
 * One few-shot classification job, from {@code attune setfit} or a recipe whose method is a
 * classifier ({@code method: setfit}): sample {@code perClass} examples of each class (setfit's
 * {@code sample_dataset}), fit the classifier, score it on the eval file; by default also fit the
 * head alone on the frozen embeddings first, to show what fine-tuning the body adds. With several
 * seeds the whole run repeats on each seed's sample, and {@link PairedReport} sets the two side
 * by side seed by seed, with the mean paired difference and its standard error.
 *
 * @param saveTo   where the last run's classifier is saved, or null
 * @param report   where the per-seed scores and their summary are written as JSON, or null
 * @param config   the method's keys as the user gave them; {@code seed} is the first run's seed
 * @param finetune false: only the frozen-body classifier (the baseline) is fitted and saved
 * @param baseline also fit and score the frozen-body classifier when fine-tuning
 * @param where    how binding errors name their source: the recipe file, or the command
 */
public record ClassifierRun(Path train, Path eval, String textColumn, String labelColumn, int perClass, String model, String method,
                            ObjectNode config, int seeds, Path saveTo, Path report, boolean finetune, boolean baseline, String where) {

    public ClassifierRun {
        if (perClass <= 0) {
            throw new IllegalArgumentException("--per-class must be > 0, got " + perClass);
        }
        if (seeds < 1) {
            throw new IllegalArgumentException("--seeds must be >= 1, got " + seeds);
        }
    }

    /** Runs the job against the installed plugins, printing scores to {@code out} and progress to {@code err}. */
    public void run(PluginCatalog catalog, PrintWriter out, PrintWriter err) throws IOException {
        ClassifierMethod<Object> m = method(catalog, method);
        RecipeLoader binder = new RecipeLoader();
        ObjectMapper json = new ObjectMapper();
        Object first = binder.bindConfig(config, m.defaultConfig(), m.configType(), method, where);
        long seed = json.valueToTree(first).path("seed").asLong(0);
        List<LabeledText> trainRows = load(train);
        List<LabeledText> evalRows = load(eval);
        if (saveTo != null && Files.exists(saveTo)) {
            throw new IllegalArgumentException(saveTo + ": already exists; choose a new output directory");
        }
        checkReportPath();
        Path modelDir = ModelLoader.resolve(model);
        ModelLoader loader = new ModelLoader(catalog);
        Backend backend = loader.backend(null);
        List<String> evalTexts = evalRows.stream().map(LabeledText::text).toList();
        List<String> evalLabels = evalRows.stream().map(LabeledText::label).toList();
        boolean scoresBaseline = baseline || !finetune;
        PairedReport paired = new PairedReport(method, scoresBaseline, finetune);
        PeakGflops peak = new PeakGflops(backend);
        // Every seed's baseline embeds the eval texts with the same body: the model reloaded from
        // modelDir (no adapter), the default prompt, and m.frozenBody of a config that differs only
        // in the seed, which ClassifierMethod.frozenBody promises the embeddings do not depend on.
        // So the first seed's embeddings serve them all.
        double[][] frozenEval = null;
        try (Scope job = Scope.open("classifier")) {
            for (int r = 0; r < seeds; r++) {
                long s = seed + r;
                // The model loads first, so a broken one is the only line printed; nothing is written before save().
                try (Scope run = Scope.open("classifier-run"); LoadedModel lm = loader.load(modelDir, null, backend, DType.F32, run)) {
                    List<LabeledText> shots = FewShotSampler.sample(trainRows, perClass, s, w -> err.println("attune: warning: " + w));
                    if (shots.stream().map(LabeledText::label).distinct().count() < 2) {
                        throw new DataException(train.getFileName() + ": only one class (" + shots.getFirst().label() + "); a classifier needs at least 2");
                    }
                    List<String> texts = shots.stream().map(LabeledText::text).toList();
                    List<String> labels = shots.stream().map(LabeledText::label).toList();
                    if (r == 0) {
                        err.printf("%s: %d training examples (%d per class, seed %d), %d eval examples, model %s%n",
                                method, texts.size(), perClass, s, evalTexts.size(), model);
                    }
                    ObjectNode keys = config.deepCopy().put("seed", s);
                    Object c = binder.bindConfig(keys, m.defaultConfig(), m.configType(), method, where);
                    boolean last = r == seeds - 1;
                    HostClassifierContext context = new HostClassifierContext(lm, model, run, name -> optimizer(catalog, name), err, method, peak);
                    PairedReport.Scores base = null;
                    PairedReport.Scores tuned = null;
                    if (scoresBaseline) {
                        TextClassifier frozen = m.fit(texts, labels, m.frozenBody(c), context);
                        if (frozenEval == null) {
                            frozenEval = embed("baseline", frozen, evalTexts, err);
                        }
                        base = score("baseline", frozen, frozenEval, evalLabels, out);
                        if (!finetune && last) {
                            save(frozen, err);
                        }
                    }
                    if (finetune) {
                        TextClassifier fitted = m.fit(texts, labels, c, context);
                        tuned = score(method, fitted, embed(method, fitted, evalTexts, err), evalLabels, out);
                        if (last) {
                            save(fitted, err);
                        }
                    }
                    PairedReport.Row row = new PairedReport.Row(s, texts.size(), base, tuned, context.bodyTrained());
                    paired.add(row);
                    if (seeds > 1) {
                        out.print((r == 0 ? "\n" + paired.rowHeader() : "") + paired.rowLine(row));
                        out.flush();
                    }
                }
            }
        }
        out.print("\n" + paired.summary());
        out.flush();
        if (report != null) {
            ObjectNode doc = json.createObjectNode().put("model", model).put("model_dir", modelDir.toString()).put("method", method)
                    .put("train", train.toString()).put("eval", eval.toString()).put("text_column", textColumn).put("label_column", labelColumn)
                    .put("per_class", perClass).put("eval_examples", evalTexts.size()).put("backend", backend.name());
            doc.set("config", json.valueToTree(first));
            writeAtomically(report, json.writerWithDefaultPrettyPrinter().writeValueAsString(paired.toJson(doc, peak.measured())) + "\n");
            err.println(method + ": report written to " + report);
        }
    }

    /** The class of each text, by a classifier that method {@code method} saved in {@code dir}. */
    public static List<String> predict(PluginCatalog catalog, Path dir, String method, List<String> texts, PrintWriter err) throws IOException {
        ClassifierMethod<?> m = method(catalog, method);
        ModelLoader loader = new ModelLoader(catalog);
        try (Scope scope = Scope.open("predict"); LoadedModel lm = loader.load(dir, null, loader.backend(null), DType.F32, scope)) {
            HostClassifierContext context = new HostClassifierContext(lm, dir.toString(), scope, name -> optimizer(catalog, name), err, method,
                    lm.backend()::measurePeakGflops);
            return m.load(dir, context).predict(texts, n -> { });
        }
    }

    private static Optimizer<?> optimizer(PluginCatalog catalog, String name) {
        return catalog.find(Kind.OPTIMIZER, name, Optimizer.class).orElseThrow(() -> new IllegalStateException("the " + name
                + " optimizer plugin is not installed; installed: " + catalog.list(Kind.OPTIMIZER).stream().map(PluginCatalog.Entry::name).toList()));
    }

    @SuppressWarnings("unchecked")
    private static ClassifierMethod<Object> method(PluginCatalog catalog, String name) {
        return catalog.find(Kind.CLASSIFIER, name, ClassifierMethod.class).orElseThrow(() -> new IllegalArgumentException("classifier method '"
                + name + "' is not installed; installed: " + catalog.list(Kind.CLASSIFIER).stream().map(PluginCatalog.Entry::name).toList()));
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

    private void save(TextClassifier c, PrintWriter err) throws IOException {
        if (saveTo != null) {
            c.save(saveTo);
            err.println(method + ": saved to " + saveTo);
        }
    }

    /** The classifier's body's embeddings of the eval texts, with progress. */
    private static double[][] embed(String name, TextClassifier c, List<String> evalTexts, PrintWriter err) {
        try (StageProgress p = new StageProgress(name + " eval", evalTexts.size(), err)) {
            return c.embed(evalTexts, n -> p.advance(n, null));
        }
    }

    /** The classifier's scores on the eval set from its body's embeddings; one seed also prints them with the confusion matrix. */
    private PairedReport.Scores score(String name, TextClassifier c, double[][] embeddings, List<String> evalLabels, PrintWriter out) {
        List<String> predicted = c.predict(embeddings);
        TreeSet<String> all = new TreeSet<>(c.classes());
        all.addAll(evalLabels);
        List<String> classes = new ArrayList<>(all);
        ClassificationMetrics metrics = ClassificationMetrics.of(classes, indices(evalLabels, classes), indices(predicted, classes));
        if (seeds == 1) {
            out.printf("%n%s: accuracy %.4f, macro-F1 %.4f on %d eval examples%n%s", name, metrics.accuracy(), metrics.macroF1(),
                    evalLabels.size(), metrics.confusionTable());
            out.flush();
        }
        return new PairedReport.Scores(metrics.accuracy(), metrics.macroF1());
    }

    /** Each label's position in {@code classes}, -1 for one not there (an eval label the training set lacks). */
    private static int[] indices(List<String> labels, List<String> classes) {
        return labels.stream().mapToInt(classes::indexOf).toArray();
    }

    /** Refuses a report path that cannot be written before any training, not after it. */
    private void checkReportPath() {
        if (report == null) {
            return;
        }
        if (Files.isDirectory(report)) {
            throw new IllegalArgumentException(report + ": is a directory; --report takes a file name");
        }
        Path parent = report.toAbsolutePath().getParent();
        if (!Files.isDirectory(parent)) {
            throw new IllegalArgumentException(report + ": directory " + parent + " does not exist; create it or choose another --report path");
        }
    }

    /** Writes {@code text} whole or not at all: a temporary file beside {@code target}, then a rename over it. */
    static void writeAtomically(Path target, String text) throws IOException {
        Path absolute = target.toAbsolutePath();
        Path tmp = absolute.resolveSibling("." + absolute.getFileName() + ".tmp");
        try {
            Files.writeString(tmp, text, StandardCharsets.UTF_8);
            Files.move(tmp, absolute, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** The backend's FMA peak in GFLOP/s, measured (about a second) the first time a line needs it and kept for the rest of the job. */
    private static final class PeakGflops implements DoubleSupplier {
        private final Backend backend;
        private double value = Double.NaN;
        private boolean measured;

        PeakGflops(Backend backend) {
            this.backend = backend;
        }

        @Override
        public double getAsDouble() {
            if (!measured) {
                value = backend.measurePeakGflops();
                measured = true;
            }
            return value;
        }

        /** The peak if some line measured it, else NaN: a report with no body training needs none. */
        double measured() {
            return value;
        }
    }
}
