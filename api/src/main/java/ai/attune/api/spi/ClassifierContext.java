package ai.attune.api.spi;

import ai.attune.api.model.SentenceEncoder;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.Scope;

import java.nio.file.Path;

/**
 * What the host hands a {@link ClassifierMethod}: the loaded sentence encoder and where it came
 * from, its tokenizer, the installed optimizers, and where progress and warnings go.
 */
public interface ClassifierContext {
    SentenceEncoder encoder();

    Backend backend();

    /** The scope the encoder's weights live in; state kept across steps (optimizer moments, a head) goes here too. */
    Scope scope();

    /** The encoder's directory: its config, tokenizer and sentence-transformers files are copied from here on save. */
    Path modelDir();

    /**
     * Token ids of {@code text}, with the tokenizer's special tokens, not yet truncated; the model's
     * default sentence-transformers prompt (e5's {@code "query: "}), if it has one, comes first.
     */
    long[] tokenize(String text);

    /** The encoder's {@code max_seq_length}: texts are truncated to this many tokens unless a config says otherwise. */
    int maxSeqLength();

    /** The installed optimizer of that name; an unknown name fails with the installed ones listed. */
    Optimizer<?> optimizer(String name);

    /** A stage of work with {@code total} units, shown as progress until closed. */
    Stage stage(String name, long total);

    /** A one-line warning for the user. */
    void warn(String message);

    /**
     * The body finished a training stage; the host reports its speed (with the model FLOPs
     * utilisation against the backend's peak, which only the host can measure once per job) and
     * keeps it for the run's report.
     */
    void bodyTrained(TrainingThroughput throughput);

    /** Progress of one stage. */
    interface Stage extends AutoCloseable {
        /** {@code n} more units done; {@code extra} (a loss, say) is shown beside the count, or null. */
        void advance(long n, String extra);

        @Override
        void close();
    }
}
