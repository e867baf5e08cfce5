package ai.attune.plugins.setfit;

import ai.attune.api.model.SentenceBatcher;
import ai.attune.api.model.SentenceEncoder;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.Tensor;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.function.IntConsumer;

/**
 * Texts to sentence embeddings with a {@link SentenceEncoder}, through the {@link SentenceBatcher}
 * that {@code attune embed} uses too; the ids are cached, since training embeds the same few-shot
 * texts every step.
 */
public final class SentenceEmbedder {
    private final SentenceBatcher batcher;
    private final Map<String, long[]> ids = new HashMap<>();

    public SentenceEmbedder(SentenceEncoder encoder, Backend backend, Function<String, long[]> tokenize, int maxLength) {
        this.batcher = new SentenceBatcher(encoder, backend, tokenize, maxLength);
    }

    public SentenceEncoder encoder() {
        return batcher.encoder();
    }

    public Backend backend() {
        return batcher.backend();
    }

    /** The text's token count as {@link #embed} feeds it: with the prompt and special tokens, truncated. */
    public int length(String text) {
        return ids(text).length;
    }

    /** The length {@link #embed} pads {@code texts} to: the longest, at least 1. */
    public int paddedLength(List<String> texts) {
        int t = 1;
        for (String text : texts) {
            t = Math.max(t, length(text));
        }
        return t;
    }

    /** Embeddings [texts, dim] of one padded batch in the current scope, recording history when grad mode is on. */
    public Tensor embed(List<String> texts) {
        List<long[]> rows = new ArrayList<>(texts.size());
        for (String text : texts) {
            rows.add(ids(text));
        }
        return batcher.embed(rows);
    }

    /**
     * Embeddings as doubles [texts][dim], without gradients, in batches of texts of similar length
     * (as sentence-transformers' {@code encode}) so little time goes to padding. {@code done} hears
     * how many texts each batch finished.
     */
    public double[][] encode(List<String> texts, int batchSize, IntConsumer done) {
        long[][] rows = new long[texts.size()][];
        for (int i = 0; i < rows.length; i++) {
            rows[i] = ids(texts.get(i));
        }
        return batcher.encode(rows, batchSize, done);
    }

    private long[] ids(String text) {
        return ids.computeIfAbsent(text, batcher::ids);
    }
}
