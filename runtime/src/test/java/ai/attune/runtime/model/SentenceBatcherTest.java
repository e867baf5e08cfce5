package ai.attune.runtime.model;

import ai.attune.api.autograd.GradMode;
import ai.attune.api.io.SafetensorsReader;
import ai.attune.api.model.ModelConfig;
import ai.attune.api.model.SentenceBatcher;
import ai.attune.api.model.SentenceEncoder;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensors;
import ai.attune.kernels.jvm.JvmBackend;
import ai.attune.plugins.model.bert.BertFamily;
import ai.attune.runtime.text.Tokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The length-sorted, per-batch padded encoding that {@code attune embed} and SetFit share, on the
 * real all-MiniLM-L6-v2, against its oracle: the same encoder run on one text at a time, with no
 * padding and no reordering.
 */
class SentenceBatcherTest {
    private static final Path SHARED_TEXT = Path.of("../../shared/data/text");

    @TempDir
    static Path cache;

    @Test
    void truncationKeepsTheFinalSpecialToken() {
        assertArrayEquals(new long[] {101, 7, 102}, SentenceBatcher.truncate(new long[] {101, 7, 8, 9, 102}, 3));
        long[] fits = {101, 7, 102};
        assertTrue(fits == SentenceBatcher.truncate(fits, 3), "a sequence that fits is not copied");
    }

    @Test
    void longestFirstKeepsInputOrderAmongEqualLengths() {
        long[][] ids = {{1, 2}, {1, 2, 3, 4}, {1}, {5, 6, 7, 8}, {9, 9}};
        assertArrayEquals(new int[] {1, 3, 0, 4, 2}, SentenceBatcher.longestFirst(ids));
    }

    /**
     * Harvard sentences (about ten tokens) and Moby-Dick paragraphs (tens to hundreds, one cut at
     * max_seq_length 256), shuffled so that file order and length order disagree, in batches of 4:
     * every batch is padded, and each row must land at its input position with the embedding the
     * text gets alone.
     */
    @Test
    void batchedEmbeddingsInInputOrderEqualOneTextAtATime() throws IOException {
        Path dir = OnnxEncoderImporter.materialize(PretrainedEncoders.ALL_MINILM_L6_V2, cache);
        List<String> texts = texts();
        JvmBackend backend = new JvmBackend();
        ModelConfig config = ModelConfig.read(dir);
        try (Scope params = Scope.detached("params"); SafetensorsReader weights = SafetensorsReader.openModelDir(dir);
             Tokenizer tokenizer = Tokenizer.load(dir); Arena arena = Arena.ofConfined()) {
            SentenceEncoder encoder = (SentenceEncoder) new BertFamily().load(config, weights, backend, DType.F32, params);
            SentenceBatcher batcher = new SentenceBatcher(encoder, backend, tokenizer::encode, 256);
            long[][] ids = batcher.ids(texts);
            int longest = Arrays.stream(ids).mapToInt(r -> r.length).max().orElseThrow();
            assertEquals(256, longest, "one paragraph is cut to max_seq_length");
            assertTrue(Arrays.stream(ids).allMatch(r -> r[0] == 101 && r[r.length - 1] == 102), "[CLS] ... [SEP], truncated or not");

            int batchSize = 4;
            List<Integer> batchesDone = new ArrayList<>();
            double[][] batched = batcher.encode(ids, batchSize, batchesDone::add);
            MemorySegment f32 = arena.allocate((long) texts.size() * 384 * 4);
            SentenceBatcher.Counts counts = batcher.encode(ids, batchSize, f32, n -> { });

            double worst = 0;
            try (GradMode.Region ng = GradMode.noGrad()) {
                for (int i = 0; i < texts.size(); i++) {
                    double[] alone;
                    try (Scope s = Scope.open("one")) {
                        alone = Tensors.toDoubles(batcher.embed(List.of(ids[i]))); // [1, 384], no padding
                    }
                    assertEquals(384, batched[i].length);
                    for (int j = 0; j < 384; j++) {
                        worst = Math.max(worst, Math.abs(batched[i][j] - alone[j]));
                        assertEquals(alone[j], batched[i][j], 1e-5, "text " + i + " (" + ids[i].length + " tokens), dimension " + j);
                        assertEquals((float) batched[i][j], f32.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN),
                                (long) i * 384 + j), "the f32 rows are the same embeddings, in the same order");
                    }
                }
            }
            System.out.printf("batched vs one at a time over %d texts: max |diff| %.3g%n", texts.size(), worst);

            // Counted independently: the lengths sorted descending, each batch as long as its first.
            int[] lengths = Arrays.stream(ids).mapToInt(r -> r.length).boxed().sorted(Collections.reverseOrder()).mapToInt(Integer::intValue).toArray();
            long padded = 0;
            for (int b = 0; b < lengths.length; b += batchSize) {
                padded += (long) Math.min(batchSize, lengths.length - b) * lengths[b];
            }
            assertEquals(new SentenceBatcher.Counts(texts.size(), Arrays.stream(lengths).sum(), padded), counts);
            assertEquals(List.of(4, 4, 4, 4, 2), batchesDone);
            long fileOrderPadded = 0;
            for (int b = 0; b < ids.length; b += batchSize) {
                int max = 0;
                for (int k = b; k < Math.min(ids.length, b + batchSize); k++) {
                    max = Math.max(max, ids[k].length);
                }
                fileOrderPadded += (long) Math.min(batchSize, ids.length - b) * max;
            }
            assertTrue(padded < fileOrderPadded / 2, "sorting pads less: " + padded + " tokens computed against " + fileOrderPadded + " in file order");
            assertThrows(IllegalArgumentException.class, () -> batcher.encode(ids, 0, n -> { }));
        }
    }

    /** Twelve Harvard sentences and six Moby-Dick paragraphs of 150 to 2,000 characters, shuffled with a fixed seed. */
    private static List<String> texts() throws IOException {
        List<String> harvard = Files.readAllLines(SHARED_TEXT.resolve("harvard_sentences.txt")).stream().filter(s -> !s.isBlank()).toList();
        List<String> out = new ArrayList<>();
        for (int i = 0; i < 12; i++) {
            out.add(harvard.get(i * 53));
        }
        String[] paragraphs = Files.readString(SHARED_TEXT.resolve("mobydick.txt")).split("\\r?\\n[ \\t]*\\r?\\n");
        int[] bounds = {150, 300, 500, 800, 1200, 2000};
        for (int b = 0; b < bounds.length; b++) {
            int lo = b == 0 ? 100 : bounds[b - 1];
            int hi = bounds[b];
            out.add(Arrays.stream(paragraphs).skip(300).map(p -> p.replaceAll("\\s+", " ").strip())
                    .filter(p -> p.length() > lo && p.length() <= hi).findFirst().orElseThrow());
        }
        Collections.shuffle(out, new Random(7));
        return out;
    }
}
