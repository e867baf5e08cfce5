package ai.attune.runtime.classify;

import ai.attune.api.data.DataException;
import ai.attune.api.spi.ClassifierMethod;
import ai.attune.api.spi.Kind;
import ai.attune.api.spi.Optimizer;
import ai.attune.api.spi.TextClassifier;
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
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;

/**
 * One few-shot classification job, from {@code attune setfit} or a recipe whose method is a
 * classifier ({@code method: setfit}): sample {@code perClass} examples of each class (setfit's
 * {@code sample_dataset}), fit the classifier, score it on the eval file; by default also fit the
 * head alone on the frozen embeddings first, to show what fine-tuning the body adds. With several
 * seeds the whole run repeats and the scores are reported as mean ± std.
 *
 * @param saveTo   where the last run's classifier is saved, or null
 * @param config   the method's keys as the user gave them; {@code seed} is the first run's seed
 * @param finetune false: only the frozen-body classifier (the baseline) is fitted and saved
 * @param baseline also fit and score the frozen-body classifier when fine-tuning
 * @param where    how binding errors name their source: the recipe file, or the command
 */
public record ClassifierRun(Path train, Path eval, String textColumn, String labelColumn, int perClass, String model, String method,
                            ObjectNode config, int seeds, Path saveTo, boolean finetune, boolean baseline, String where) {

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
        Path modelDir = ModelLoader.resolve(model);
        ModelLoader loader = new ModelLoader(catalog);
        List<String> evalTexts = evalRows.stream().map(LabeledText::text).toList();
        List<String> evalLabels = evalRows.stream().map(LabeledText::label).toList();
        List<double[]> base = new ArrayList<>();
        List<double[]> tuned = new ArrayList<>();
        try (Scope job = Scope.open("classifier")) {
            for (int r = 0; r < seeds; r++) {
                long s = seed + r;
                // The model loads first, so a broken one is the only line printed; nothing is written before save().
                try (Scope run = Scope.open("classifier-run"); LoadedModel lm = loader.load(modelDir, null, loader.backend(null), DType.F32, run)) {
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
                    HostClassifierContext context = new HostClassifierContext(lm, model, run, name -> optimizer(catalog, name), err);
                    if (baseline || !finetune) {
                        TextClassifier frozen = m.fit(texts, labels, m.frozenBody(c), context);
                        score("baseline", frozen, evalTexts, evalLabels, base, s, out, err);
                        if (!finetune && last) {
                            save(frozen, err);
                        }
                    }
                    if (finetune) {
                        TextClassifier fitted = m.fit(texts, labels, c, context);
                        score(method, fitted, evalTexts, evalLabels, tuned, s, out, err);
                        if (last) {
                            save(fitted, err);
                        }
                    }
                }
            }
        }
        summary(base, tuned, out);
    }

    /** The class of each text, by a classifier that method {@code method} saved in {@code dir}. */
    public static List<String> predict(PluginCatalog catalog, Path dir, String method, List<String> texts, PrintWriter err) throws IOException {
        ClassifierMethod<?> m = method(catalog, method);
        ModelLoader loader = new ModelLoader(catalog);
        try (Scope scope = Scope.open("predict"); LoadedModel lm = loader.load(dir, null, loader.backend(null), DType.F32, scope)) {
            return m.load(dir, new HostClassifierContext(lm, dir.toString(), scope, name -> optimizer(catalog, name), err)).predict(texts, n -> { });
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

    private void score(String name, TextClassifier c, List<String> evalTexts, List<String> evalLabels, List<double[]> scores, long s,
                       PrintWriter out, PrintWriter err) {
        List<String> predicted;
        try (StageProgress p = new StageProgress(name + " eval", evalTexts.size(), err)) {
            predicted = c.predict(evalTexts, n -> p.advance(n, null));
        }
        TreeSet<String> all = new TreeSet<>(c.classes());
        all.addAll(evalLabels);
        List<String> classes = new ArrayList<>(all);
        ClassificationMetrics metrics = ClassificationMetrics.of(classes, indices(evalLabels, classes), indices(predicted, classes));
        scores.add(new double[] {metrics.accuracy(), metrics.macroF1()});
        if (seeds == 1) {
            out.printf("%n%s: accuracy %.4f, macro-F1 %.4f on %d eval examples%n%s", name, metrics.accuracy(), metrics.macroF1(),
                    evalTexts.size(), metrics.confusionTable());
        } else {
            out.printf("%s seed %d: accuracy %.4f, macro-F1 %.4f%n", name, s, metrics.accuracy(), metrics.macroF1());
        }
        out.flush();
    }

    /** Each label's position in {@code classes}, -1 for one not there (an eval label the training set lacks). */
    private static int[] indices(List<String> labels, List<String> classes) {
        return labels.stream().mapToInt(classes::indexOf).toArray();
    }

    /** Baseline and fine-tuned side by side; mean ± std (sample std, n-1) over seeds when there are several. */
    private void summary(List<double[]> base, List<double[]> tuned, PrintWriter out) {
        out.printf("%n%-28s %-20s %-20s%n", "", "accuracy", "macro-F1");
        if (!base.isEmpty()) {
            out.printf("%-28s %-20s %-20s%n", "baseline (frozen + head)", stat(base, 0), stat(base, 1));
        }
        if (!tuned.isEmpty()) {
            out.printf("%-28s %-20s %-20s%n", method + " (fine-tuned + head)", stat(tuned, 0), stat(tuned, 1));
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
}
