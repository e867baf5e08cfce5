package ai.attune.plugins.setfit;

import ai.attune.api.autograd.GradMode;
import ai.attune.api.model.SentenceEncoder;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.function.IntConsumer;

/**
 * Texts to sentence embeddings with a {@link SentenceEncoder}: tokenised (and cached, since
 * training embeds the same few-shot texts every step), truncated to the model's
 * {@code max_seq_length} keeping the final [SEP], right-padded with an attention mask.
 */
public final class SentenceEmbedder {
    private final SentenceEncoder encoder;
    private final Backend backend;
    private final Function<String, long[]> tokenize;
    private final int maxLength;
    private final Map<String, long[]> ids = new HashMap<>();

    public SentenceEmbedder(SentenceEncoder encoder, Backend backend, Function<String, long[]> tokenize, int maxLength) {
        this.encoder = encoder;
        this.backend = backend;
        this.tokenize = tokenize;
        this.maxLength = maxLength;
    }

    public SentenceEncoder encoder() {
        return encoder;
    }

    public Backend backend() {
        return backend;
    }

    /** The text's token count as {@link #embed} feeds it: with the prompt and special tokens, truncated. */
    public int length(String text) {
        return ids.computeIfAbsent(text, this::tokens).length;
    }

    /** The length {@link #embed} pads {@code texts} to: the longest, at least 1. */
    public int paddedLength(List<String> texts) {
        int t = 1;
        for (String text : texts) {
            t = Math.max(t, length(text));
        }
        return t;
    }

    /** Embeddings [texts, dim] in the current scope, recording history when grad mode is on. */
    public Tensor embed(List<String> texts) {
        long[][] rows = new long[texts.size()][];
        int t = paddedLength(texts);
        for (int i = 0; i < rows.length; i++) {
            rows[i] = ids.get(texts.get(i));
        }
        long[] flat = new long[rows.length * t];
        long[] mask = new long[rows.length * t];
        for (int i = 0; i < rows.length; i++) {
            for (int j = 0; j < rows[i].length; j++) {
                flat[i * t + j] = rows[i][j];
                mask[i * t + j] = 1;
            }
        }
        return encoder.embed(Tensors.ofLongs(backend, flat, rows.length, t), Tensors.ofLongs(backend, mask, rows.length, t), null);
    }

    /**
     * Embeddings as doubles [texts][dim], without gradients, in batches of texts of similar length
     * (as sentence-transformers' {@code encode}) so little time goes to padding. {@code done} hears
     * how many texts each batch finished.
     */
    public double[][] encode(List<String> texts, int batchSize, IntConsumer done) {
        Integer[] order = new Integer[texts.size()];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
            ids.computeIfAbsent(texts.get(i), this::tokens);
        }
        Arrays.sort(order, Comparator.comparingInt(i -> -ids.get(texts.get(i)).length));
        double[][] out = new double[texts.size()][];
        try (GradMode.Region ng = GradMode.noGrad()) {
            for (int start = 0; start < order.length; start += batchSize) {
                List<String> batch = new ArrayList<>();
                int end = Math.min(order.length, start + batchSize);
                for (int k = start; k < end; k++) {
                    batch.add(texts.get(order[k]));
                }
                try (Scope step = Scope.open("encode")) {
                    double[] flat = Tensors.toDoubles(embed(batch));
                    int dim = flat.length / batch.size();
                    for (int k = start; k < end; k++) {
                        out[order[k]] = Arrays.copyOfRange(flat, (k - start) * dim, (k - start + 1) * dim);
                    }
                }
                done.accept(end - start);
            }
        }
        return out;
    }

    /** The text's ids, truncated as the tokenizers library truncates: the last special token is kept. */
    private long[] tokens(String text) {
        long[] all = tokenize.apply(text);
        if (all.length <= maxLength) {
            return all;
        }
        long[] out = Arrays.copyOf(all, maxLength);
        out[maxLength - 1] = all[all.length - 1];
        return out;
    }
}
