package ai.attune.api.model;

import ai.attune.api.autograd.GradMode;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.function.Function;
import java.util.function.IntConsumer;

/**
 * sentence-transformers' {@code encode} over a {@link SentenceEncoder}: texts are tokenised,
 * truncated to the model's {@code max_seq_length} as the tokenizers library truncates, sorted
 * longest first and embedded in batches padded only to their own longest text, and the rows are
 * handed back in input order. Sorting is what keeps padding small: a batch of file-ordered texts
 * is padded to its longest member, a batch of neighbours in length to almost nothing.
 * (sentence-transformers sorts by characters; the token count sorted on here is what the
 * padding is made of.)
 */
public final class SentenceBatcher {
    /** sentence-transformers' default {@code batch_size} of {@code encode}. */
    public static final int DEFAULT_BATCH_SIZE = 32;

    private final SentenceEncoder encoder;
    private final Backend backend;
    private final Function<String, long[]> tokenize;
    private final int maxLength;

    /**
     * @param tokenize  a text to its ids with the special tokens ({@code [CLS] ... [SEP]}), any prompt included
     * @param maxLength the model's {@code max_seq_length}
     */
    public SentenceBatcher(SentenceEncoder encoder, Backend backend, Function<String, long[]> tokenize, int maxLength) {
        if (maxLength < 2) {
            throw new IllegalArgumentException("max_seq_length must hold [CLS] and [SEP], got " + maxLength);
        }
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

    /** Hears one batch: row k of {@code embeddings} [rows.length, dim] is the embedding of input {@code rows[k]}. */
    @FunctionalInterface
    public interface BatchSink {
        /** {@code embeddings} lives in a scope that closes when this returns. */
        void accept(int[] rows, Tensor embeddings);
    }

    /** What an {@link #encode} ran: texts, real tokens, and tokens computed including padding. */
    public record Counts(int texts, long tokens, long paddedTokens) {}

    /** The text's ids, truncated as the tokenizers library truncates. */
    public long[] ids(String text) {
        return truncate(tokenize.apply(text), maxLength);
    }

    /**
     * The first {@code maxLength} ids with the last one replaced by the sequence's final id, as the
     * tokenizers library truncates: its post-processor adds [SEP] after cutting, so [SEP] survives.
     */
    public static long[] truncate(long[] ids, int maxLength) {
        if (ids.length <= maxLength) {
            return ids;
        }
        long[] out = Arrays.copyOf(ids, maxLength);
        out[maxLength - 1] = ids[ids.length - 1];
        return out;
    }

    /**
     * Embeddings [rows, dim] of one batch, right-padded to its longest row with an attention mask,
     * in the current scope; the forward records history when grad mode is on (training the body).
     */
    public Tensor embed(List<long[]> rows) {
        int t = 1;
        for (long[] r : rows) {
            t = Math.max(t, r.length);
        }
        long[] flat = new long[rows.size() * t];  // [batch, t], 0 = [PAD] for BERT vocabularies
        long[] mask = new long[rows.size() * t];  // [batch, t]
        for (int i = 0; i < rows.size(); i++) {
            long[] r = rows.get(i);
            System.arraycopy(r, 0, flat, i * t, r.length);
            Arrays.fill(mask, i * t, i * t + r.length, 1L);
        }
        return encoder.embed(Tensors.ofLongs(backend, flat, rows.size(), t), Tensors.ofLongs(backend, mask, rows.size(), t), null);
    }

    /** Input positions, longest text first; equal lengths keep input order. */
    public static int[] longestFirst(long[][] ids) {
        Integer[] order = new Integer[ids.length];
        Arrays.setAll(order, i -> i);
        Arrays.sort(order, Comparator.comparingInt(i -> -ids[i].length));
        return Arrays.stream(order).mapToInt(Integer::intValue).toArray();
    }

    /**
     * Embeds {@code ids} (already {@link #ids tokenised}) without gradients, longest first in
     * batches of {@code batchSize}, each padded to its own longest row; {@code sink} hears every
     * batch with the input positions of its rows, {@code done} how many texts it finished.
     */
    public Counts encode(long[][] ids, int batchSize, BatchSink sink, IntConsumer done) {
        if (batchSize < 1) {
            throw new IllegalArgumentException("batch size must be >= 1, got " + batchSize);
        }
        int[] order = longestFirst(ids);
        long tokens = 0;
        long padded = 0;
        try (GradMode.Region ng = GradMode.noGrad()) {
            for (int start = 0; start < order.length; start += batchSize) {
                int[] rows = Arrays.copyOfRange(order, start, Math.min(order.length, start + batchSize));
                List<long[]> batch = new ArrayList<>(rows.length);
                for (int r : rows) {
                    batch.add(ids[r]);
                    tokens += ids[r].length;
                }
                padded += (long) rows.length * Math.max(1, ids[rows[0]].length); // the first row is the batch's longest
                try (Scope step = Scope.open("encode")) {
                    sink.accept(rows, embed(batch));
                }
                done.accept(rows.length);
            }
        }
        return new Counts(ids.length, tokens, padded);
    }

    /** Tokenises and truncates every text, in input order. */
    public long[][] ids(List<String> texts) {
        long[][] ids = new long[texts.size()][];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = ids(texts.get(i));
        }
        return ids;
    }

    /** Embeddings as doubles [texts][dim] in input order, as {@link #encode(long[][], int, BatchSink, IntConsumer)} computes them. */
    public double[][] encode(long[][] ids, int batchSize, IntConsumer done) {
        double[][] out = new double[ids.length][];
        encode(ids, batchSize, (rows, embeddings) -> {
            double[] flat = Tensors.toDoubles(embeddings); // [rows, dim]
            int dim = flat.length / rows.length;
            for (int k = 0; k < rows.length; k++) {
                out[rows[k]] = Arrays.copyOfRange(flat, k * dim, (k + 1) * dim);
            }
        }, done);
        return out;
    }

    /**
     * Embeddings as f32 rows [texts, dim] in input order into {@code out} (little-endian, at least
     * texts x dim x 4 bytes), as {@link #encode(long[][], int, BatchSink, IntConsumer)} computes them.
     */
    public Counts encode(long[][] ids, int batchSize, MemorySegment out, IntConsumer done) {
        long rowBytes = (long) encoder.dimension() * Float.BYTES;
        if (out.byteSize() < ids.length * rowBytes) {
            throw new IllegalArgumentException(out.byteSize() + " bytes cannot hold " + ids.length + " embeddings of " + rowBytes + " bytes");
        }
        try (Arena staging = Arena.ofConfined()) {
            MemorySegment batch = staging.allocate((long) Math.min(Math.max(ids.length, 1), batchSize) * rowBytes, 64);
            return encode(ids, batchSize, (rows, embeddings) -> {
                Tensor f32 = backend.zeros(DType.F32, new int[] {rows.length, encoder.dimension()}, Scope.current());
                backend.copy(embeddings, f32);
                backend.copyToBytes(f32, batch.asSlice(0, rows.length * rowBytes));
                for (int k = 0; k < rows.length; k++) {
                    MemorySegment.copy(batch, k * rowBytes, out, rows[k] * rowBytes, rowBytes);
                }
            }, done);
        }
    }
}
