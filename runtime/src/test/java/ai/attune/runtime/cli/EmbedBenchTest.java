package ai.attune.runtime.cli;

import ai.attune.api.data.DataException;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code attune bench --op embed}: the texts it reads (the Reuters ARFF cut as the README's
 * measurement cuts it, lines of a .txt, a CSV column), the files it exchanges with the peer, the
 * FLOPs it counts, and its refusals, each one line before anything loads.
 */
class EmbedBenchTest {
    private static final Path REUTERS = Path.of("../../shared/data/reuters/ReutersCorn-train.arff");

    @TempDir
    Path dir;

    private final ByteArrayOutputStream err = new ByteArrayOutputStream();
    private PrintStream oldErr;

    @BeforeEach
    void capture() {
        oldErr = System.err;
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
    }

    @AfterEach
    void restore() {
        System.setErr(oldErr);
    }

    /**
     * The first 75 words of the first 1,000 Reuters articles. The counts come from a separate
     * parse of the file (a Python regular expression over its quoted strings, split on
     * whitespace): 574 articles reach 75 words, and the texts hold 59,971 words in all.
     */
    @Test
    void theReutersArticlesAreCutToTheirFirstWords() throws IOException {
        List<String> texts = EmbedBench.texts(REUTERS, "Text", 75, 1000);
        assertEquals(1000, texts.size());
        assertTrue(texts.get(0).startsWith("BAHIA COCOA REVIEW Showers continued throughout the week in the Bahia cocoa zone,"), texts.get(0));
        assertTrue(texts.get(0).endsWith("cumulative total for the season of 5.93 mln"), texts.get(0));
        assertEquals(75, texts.get(0).split(" ").length);
        assertEquals(574, texts.stream().filter(t -> t.split(" ").length == 75).count());
        assertEquals(59_971, texts.stream().mapToInt(t -> t.split(" ").length).sum());
        assertTrue(texts.stream().allMatch(t -> !t.contains("\n") && !t.contains("  ")));
        assertEquals(1554, EmbedBench.texts(REUTERS, "Text", null, null).size(), "no --limit: every article");
    }

    @Test
    void aTxtFileIsReadAsAttuneEmbedReadsIt() throws IOException {
        Path txt = Files.writeString(dir.resolve("texts.txt"), "one two three four\n\nfive\n");
        assertEquals(List.of("one two three four", "", "five"), EmbedBench.texts(txt, "text", null, null), "one text per line, blank ones too");
        assertEquals(List.of("one two", ""), EmbedBench.texts(txt, "text", 2, 2));
    }

    @Test
    void aCsvColumnIsRead() throws IOException {
        Path csv = Files.writeString(dir.resolve("d.csv"), "body,label\n\"a  b\nc d\",x\ne f,y\n");
        assertEquals(List.of("a b c", "e f"), EmbedBench.texts(csv, "body", 3, null));
        DataException e = assertThrows(DataException.class, () -> EmbedBench.texts(csv, "text", null, null));
        assertTrue(e.getMessage().contains("d.csv:2") && e.getMessage().contains("missing \"text\""), e.getMessage());
        Path empty = Files.writeString(dir.resolve("empty.txt"), "");
        IllegalArgumentException none = assertThrows(IllegalArgumentException.class, () -> EmbedBench.texts(empty, "text", null, null));
        assertEquals(empty + ": no texts to embed", none.getMessage());
    }

    /** The peer reads one JSON array per line, and writes f32 little-endian rows that come back in order. */
    @Test
    void idsGoOutAsJsonLinesAndEmbeddingsComeBackAsLittleEndianFloats() throws IOException {
        long[][] ids = {{101, 7592, 102}, {101, 102}, {101, 2023, 2003, 1037, 102}};
        Path file = dir.resolve("ids.jsonl");
        EmbedBench.writeIds(ids, file);
        List<String> lines = Files.readAllLines(file);
        assertEquals(List.of("[101,7592,102]", "[101,102]", "[101,2023,2003,1037,102]"), lines);
        ObjectMapper json = new ObjectMapper();
        for (int i = 0; i < ids.length; i++) {
            assertArrayEquals(ids[i], json.readValue(lines.get(i), long[].class));
        }

        float[] rows = {0.6f, 0.8f, -1f, 0f, 1.5e-3f, -2.25f};
        ByteBuffer bytes = ByteBuffer.allocate(rows.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : rows) {
            bytes.putFloat(v);
        }
        Path f32 = Files.write(dir.resolve("peer.f32"), bytes.array());
        assertArrayEquals(rows, EmbedBench.readF32(f32));
    }

    /** Cosines computed by hand: [0.6, 0.8] . [0.8, 0.6] = 0.96; a sign flip is -1; a size mismatch is no match at all. */
    @Test
    void theMinimumCosineIsTheWorstRow() {
        float[] ours = {0.6f, 0.8f, 1f, 0f};
        assertEquals(1.0, EmbedBench.minCosine(ours, new float[] {1.2f, 1.6f, 3f, 0f}, 2), 1e-7, "scale does not matter");
        assertEquals(0.96, EmbedBench.minCosine(ours, new float[] {0.8f, 0.6f, 1f, 0f}, 2), 1e-7);
        assertEquals(-1.0, EmbedBench.minCosine(ours, new float[] {0.6f, 0.8f, -1f, 0f}, 2), 1e-7);
        assertEquals(-1.0, EmbedBench.minCosine(ours, new float[] {0.6f, 0.8f}, 2));
    }

    /**
     * all-MiniLM-L6-v2's shape (hidden 384, intermediate 1536, 6 layers), five texts of lengths
     * 10, 9, 5, 4, 2 in batches of 2: padded to 10, 5, 2 tokens per row. Per padded token and layer
     * 2 x (4 x 384² + 2 x 384 x 1536) = 3,538,944 FLOPs in the Linears, and 4 x t x 384 in attention.
     */
    @Test
    void encoderFlopsCountEveryPaddedToken() throws IOException {
        var config = new ObjectMapper().readTree("{\"hidden_size\": 384, \"intermediate_size\": 1536, \"num_hidden_layers\": 6}");
        double linear = 3_538_944.0 * 6 * (2 * 10 + 2 * 5 + 1 * 2);
        double attention = 4.0 * 384 * 6 * (2 * 10 * 10 + 2 * 5 * 5 + 1 * 2 * 2);
        assertEquals(linear + attention, EmbedBench.encoderFlops(config, new int[] {10, 9, 5, 4, 2}, 2), 1e-3);
    }

    private String refused(String... args) {
        err.reset();
        assertEquals(2, Main.run(args), Arrays.toString(args));
        String e = err.toString(StandardCharsets.UTF_8);
        assertTrue(!e.contains("\tat "), "no stack trace: " + e);
        return e.lines().findFirst().orElse("");
    }

    @Test
    void badOptionsAreRefusedInOneLineBeforeAnythingLoads() throws IOException {
        Path txt = Files.writeString(dir.resolve("t.txt"), "a text\n");
        assertEquals("attune: --op embed needs --input TEXTS (.txt one text per line, or .csv/.jsonl/.arff with --text-column)",
                refused("bench", "--op", "embed", "--model", "all-MiniLM-L6-v2"));
        assertEquals("attune: --op embed needs --model NAME|DIR (a sentence encoder)",
                refused("bench", "--op", "embed", "--input", txt.toString()));
        assertEquals("attune: --op embed needs --model NAME|DIR (a sentence encoder), not --preset",
                refused("bench", "--op", "embed", "--preset", "llama-100m", "--input", txt.toString()));
        assertEquals("attune: --batch-size, --max-words and --limit must be positive",
                refused("bench", "--op", "embed", "--model", "all-MiniLM-L6-v2", "--input", txt.toString(), "--batch-size", "0"));
        assertEquals("attune: --batch-size, --max-words and --limit must be positive",
                refused("bench", "--op", "embed", "--model", "all-MiniLM-L6-v2", "--input", txt.toString(), "--max-words", "-1"));
        assertEquals("attune: sizes and --repeats must be positive",
                refused("bench", "--op", "embed", "--model", "all-MiniLM-L6-v2", "--input", txt.toString(), "--repeats", "0"));

        // Checked before the runtime boots: the peer script of this (absent) installation.
        err.reset();
        assertEquals(1, Main.run("bench", "--op", "embed", "--model", "all-MiniLM-L6-v2", "--input", txt.toString(), "--peer", "torch"));
        String e = err.toString(StandardCharsets.UTF_8);
        assertEquals(1, e.lines().count(), e);
        assertTrue(e.startsWith("attune: --peer torch: the peer script ") && e.contains("st_encode.py is missing; the distribution's bench/peers/ holds it"), e);

        err.reset();
        assertEquals(1, Main.run("bench", "--op", "embed", "--model", "all-MiniLM-L6-v2", "--input", dir.resolve("none.arff").toString()));
        assertTrue(err.toString(StandardCharsets.UTF_8).startsWith("attune: " + dir.resolve("none.arff")), err.toString(StandardCharsets.UTF_8));
    }
}
