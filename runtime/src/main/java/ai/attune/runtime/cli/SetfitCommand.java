package ai.attune.runtime.cli;

import ai.attune.runtime.classify.ClassifierRun;
import ai.attune.runtime.host.AttuneRuntime;
import ai.attune.runtime.host.RuntimeLayout;
import ai.attune.runtime.train.RecipeLoader;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code attune setfit}: few-shot text classification with SetFit (Tunstall et al. 2022). Samples
 * {@code --per-class} examples of each class, fine-tunes the sentence-transformer contrastively on
 * pairs of them, fits a head on the new embeddings and scores the eval file; by default it also
 * scores the head on the frozen embeddings, to show what fine-tuning adds. Options map onto the
 * {@code setfit:} keys of a recipe (setfit's TrainingArguments), which {@code --set} reaches directly.
 */
@Command(name = "setfit", description = "Few-shot text classification: contrastive fine-tuning of a sentence encoder plus a classifier head (SetFit).")
public final class SetfitCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Option(names = "--train", required = true, paramLabel = "FILE", description = "Labelled training texts (.csv with a header, .jsonl or .arff).")
    Path train;

    @Option(names = "--eval", required = true, paramLabel = "FILE", description = "Labelled held-out texts, same format.")
    Path eval;

    @Option(names = "--per-class", defaultValue = "8", paramLabel = "N", description = "Training examples sampled per class (default: ${DEFAULT-VALUE}).")
    int perClass;

    @Option(names = "--model", defaultValue = "all-MiniLM-L6-v2", paramLabel = "DIR|NAME", description = "Sentence-transformer body: a model directory, or all-MiniLM-L6-v2, bge-small-en-v1.5 or e5-small-v2 (default: ${DEFAULT-VALUE}).")
    String model;

    @Option(names = "--seed", defaultValue = "42", description = "Seed of the sampling, the pairs and the batch order (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--seeds", defaultValue = "1", paramLabel = "N", description = "Repeat with seeds seed .. seed+N-1: per seed the baseline's and SetFit's "
            + "scores and their difference, then each one's mean ± std and the mean paired difference ± its standard error, with SetFit's wins, ties and losses "
            + "(default: ${DEFAULT-VALUE}).")
    int seeds;

    @Option(names = "--out", paramLabel = "DIR", description = "Save the trained model (sentence-transformers directory plus head) here.")
    Path outDir;

    @Option(names = "--report", paramLabel = "FILE.json", description = "Also write the run (model, data files, config), every seed's scores and body-training "
            + "throughput, and the summary as JSON here (written atomically, replacing FILE).")
    Path report;

    @Option(names = "--text-column", defaultValue = "text", description = "Column of the text (default: ${DEFAULT-VALUE}).")
    String textColumn;

    @Option(names = "--label-column", defaultValue = "label", description = "Column of the class (default: ${DEFAULT-VALUE}).")
    String labelColumn;

    @Option(names = "--no-finetune", description = "Only fit the head on the frozen embeddings (the baseline).")
    boolean noFinetune;

    @Option(names = "--baseline", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "Also score the head on frozen embeddings, side by side (default: on).")
    boolean baseline;

    @Option(names = "--loss", paramLabel = "CLASS", description = "Body loss: CosineSimilarityLoss (default), MultipleNegativesRankingLoss, BatchHardTripletLoss or BatchAllTripletLoss.")
    String loss;

    @Option(names = "--head", paramLabel = "KIND", description = "logistic (scikit-learn's LogisticRegression, default) or differentiable (a linear softmax head trained with AdamW).")
    String head;

    @Option(names = "--end-to-end", description = "With the differentiable head, also train the body while training the head.")
    boolean endToEnd;

    @Option(names = "--sampling", paramLabel = "STRATEGY", description = "Pair sampling: oversampling (default), undersampling or unique.")
    String sampling;

    @Option(names = "--num-iterations", paramLabel = "N", description = "Legacy sampler: per sentence and iteration one positive and one negative pair.")
    Integer numIterations;

    @Option(names = "--epochs", paramLabel = "N", description = "Body epochs (default: 1).")
    Integer epochs;

    @Option(names = "--lr", paramLabel = "LR", description = "Body learning rate (default: 2e-5).")
    Double lr;

    @Option(names = "--batch-size", paramLabel = "N", description = "Pairs per body step (default: 16).")
    Integer batchSize;

    @Option(names = "--max-length", paramLabel = "TOKENS", description = "Truncate texts to this many tokens (default: the model's max_seq_length).")
    Integer maxLength;

    @Option(names = "--set", paramLabel = "KEY=VALUE", description = "Any setfit key, e.g. --set num_epochs=[1,16] --set margin=0.5. Repeatable.")
    List<String> sets = new ArrayList<>();

    @Override
    public void run() {
        ObjectNode keys = JsonNodeFactory.instance.objectNode().put("seed", seed);
        if (loss != null) {
            keys.put("loss", loss);
        }
        if (head != null) {
            if (!head.equals("logistic") && !head.equals("differentiable")) {
                throw new IllegalArgumentException("--head must be logistic or differentiable, got '" + head + "'");
            }
            keys.put("use_differentiable_head", head.equals("differentiable"));
        }
        if (endToEnd) {
            keys.put("end_to_end", true);
        }
        if (sampling != null) {
            keys.put("sampling_strategy", sampling);
        }
        if (numIterations != null) {
            keys.put("num_iterations", numIterations);
        }
        if (maxLength != null) {
            keys.put("max_length", maxLength);
        }
        // The body's half of setfit's (body, classifier) pairs; the classifier's keeps its default.
        if (epochs != null) {
            keys.putArray("num_epochs").add(epochs).add(16);
        }
        if (lr != null) {
            keys.putArray("body_learning_rate").add(lr).add(1e-5);
        }
        if (batchSize != null) {
            keys.putArray("batch_size").add(batchSize).add(2);
        }
        new RecipeLoader().override(keys, sets);
        ClassifierRun job = new ClassifierRun(train, eval, textColumn, labelColumn, perClass, model, "setfit", keys, seeds, outDir, report,
                !noFinetune, baseline, "attune setfit");
        try (AttuneRuntime rt = AttuneRuntime.boot(RuntimeLayout.fromSystem())) {
            job.run(rt.plugins(), spec.commandLine().getOut(), spec.commandLine().getErr());
        } catch (IOException e) {
            throw new UncheckedIOException(e.getMessage(), e);
        }
    }
}
