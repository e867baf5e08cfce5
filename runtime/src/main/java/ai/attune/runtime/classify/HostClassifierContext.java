package ai.attune.runtime.classify;

import ai.attune.api.model.SentenceEncoder;
import ai.attune.api.spi.ClassifierContext;
import ai.attune.api.spi.Optimizer;
import ai.attune.api.spi.TrainingThroughput;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.Scope;
import ai.attune.runtime.model.LoadedModel;
import ai.attune.runtime.train.StageProgress;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.function.DoubleSupplier;
import java.util.function.Function;

/** A {@link ClassifierContext} over a model the host loaded, its installed optimizers and the terminal. */
public final class HostClassifierContext implements ClassifierContext {
    private final LoadedModel model;
    private final SentenceEncoder encoder;
    private final Scope scope;
    private final Function<String, Optimizer<?>> optimizers;
    private final PrintWriter err;
    private final int maxSeqLength;
    private final String prompt;
    private final String method;
    private final DoubleSupplier peakGflops;
    private TrainingThroughput bodyTrained;

    /** A context whose body-training lines say "classifier" and measure the backend's peak each time they are printed. */
    public HostClassifierContext(LoadedModel model, String name, Scope scope, Function<String, Optimizer<?>> optimizers, PrintWriter err) throws IOException {
        this(model, name, scope, optimizers, err, "classifier", model.backend()::measurePeakGflops);
    }

    /**
     * {@code optimizers} finds an installed optimizer by name, failing with the installed ones
     * listed; {@code method} names the classifier method in the lines printed for it;
     * {@code peakGflops} gives the backend's FMA peak (a job measures it once and keeps it).
     */
    public HostClassifierContext(LoadedModel model, String name, Scope scope, Function<String, Optimizer<?>> optimizers, PrintWriter err,
                                 String method, DoubleSupplier peakGflops) throws IOException {
        if (!(model.module() instanceof SentenceEncoder enc)) {
            throw new IllegalArgumentException(name + " is not a sentence encoder (model_type " + model.config().modelType() + ")");
        }
        this.model = model;
        this.encoder = enc;
        this.scope = scope;
        this.optimizers = optimizers;
        this.err = err;
        this.maxSeqLength = model.maxSeqLength();
        this.prompt = model.sentenceTransformers().prompt(null, null);
        this.method = method;
        this.peakGflops = peakGflops;
    }

    @Override
    public SentenceEncoder encoder() {
        return encoder;
    }

    @Override
    public Backend backend() {
        return model.backend();
    }

    @Override
    public Scope scope() {
        return scope;
    }

    @Override
    public Path modelDir() {
        return model.config().dir();
    }

    /** The text's ids with the body's default prompt before it (e5's "query: "), as sentence-transformers' encode adds it. */
    @Override
    public long[] tokenize(String text) {
        return model.tokenizer().encode(prompt + text);
    }

    @Override
    public int maxSeqLength() {
        return maxSeqLength;
    }

    @Override
    public Optimizer<?> optimizer(String name) {
        return optimizers.apply(name);
    }

    @Override
    public Stage stage(String name, long total) {
        return new StageProgress(name, total, err);
    }

    @Override
    public void warn(String message) {
        err.println("attune: warning: " + message);
        err.flush();
    }

    /** One line: steps, time, steps/s, tokens/s (and padded tokens/s) and MFU against the backend's FMA peak. */
    @Override
    public void bodyTrained(TrainingThroughput t) {
        bodyTrained = t;
        double mfu = t.steps() == 0 ? Double.NaN : t.mfu(peakGflops.getAsDouble());
        err.printf("%s: body trained %d steps in %.1f s: %.2f steps/s, %,.0f tokens/s (%,.0f padded), MFU %s%n", method, t.steps(), t.seconds(),
                t.stepsPerSecond(), t.tokensPerSecond(), t.paddedTokensPerSecond(), Double.isNaN(mfu) ? "unknown" : String.format("%.3f", mfu));
        err.flush();
    }

    /** What the last body training in this context cost, or null if the body was not trained. */
    public TrainingThroughput bodyTrained() {
        return bodyTrained;
    }
}
