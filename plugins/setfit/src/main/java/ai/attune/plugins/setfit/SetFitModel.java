package ai.attune.plugins.setfit;

import ai.attune.api.model.SentenceBatcher;
import ai.attune.api.spi.TextClassifier;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.function.LongConsumer;

/** A sentence-transformer body and a head over its embeddings: setfit's {@code SetFitModel}. */
final class SetFitModel implements TextClassifier {
    /**
     * Texts embedded per forward when fitting the logistic head and predicting: setfit's
     * {@code encode}/{@code predict} default {@code batch_size=32}, sentence-transformers' own,
     * not {@code TrainingArguments.batch_size}, which sizes the pairs of a body step.
     */
    static final int ENCODE_BATCH = SentenceBatcher.DEFAULT_BATCH_SIZE;

    private final SentenceEmbedder body;
    private final Head head;
    private final Path baseDir;

    /** {@code baseDir} holds the body's config and tokenizer files, copied on save. */
    SetFitModel(SentenceEmbedder body, Head head, Path baseDir) {
        this.body = body;
        this.head = head;
        this.baseDir = baseDir;
    }

    Head head() {
        return head;
    }

    @Override
    public List<String> classes() {
        return head.classes();
    }

    @Override
    public double[][] embed(List<String> texts, LongConsumer progress) {
        return body.encode(texts, ENCODE_BATCH, progress::accept);
    }

    @Override
    public double[][] predictProba(double[][] embeddings) {
        return head.probabilities(embeddings);
    }

    @Override
    public void save(Path out) throws IOException {
        SetFitDirectory.write(body.encoder().module(), body.encoder().dimension(), baseDir, head, out);
    }
}
