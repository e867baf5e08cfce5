package ai.attune.runtime.data;

import ai.attune.runtime.cli.DataCommand;
import ai.attune.runtime.text.Tokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code attune data inspect}: its report on the real Reuters file and on crafted files with known lengths. */
class DataInspectionTest {
    static final String WARNING = "warning: the largest class (acq, 50 rows) is 2.50x the smallest (crude, 20 rows);"
            + " consider data.balance: oversample or undersample";

    @TempDir
    Path dir;

    @Test
    void reutersClassBalance() throws IOException {
        DataInspection report = DataInspection.classification(ClassificationDataTest.REUTERS, null, null, "text", "label");
        assertEquals(List.of(
                "reuters_tm_acq_crude.csv: 70 rows (format classification)",
                "empty rows: 0",
                "exact duplicates: 0",
                "near duplicates: 0 (MinHash Jaccard >= 0.8)",
                "classes: 2",
                "  acq       50   71.4%",
                "  crude     20   28.6%",
                WARNING), report.lines());
    }

    @Test
    void reutersTokenLengthsWithStories260K() throws IOException {
        try (Tokenizer tok = Tokenizer.load(TrainingDataTest.STORIES)) {
            DataInspection report = DataInspection.classification(ClassificationDataTest.REUTERS, tok, 512, "text", "label");
            int[] lengths = ClassificationData.load(ClassificationDataTest.REUTERS, "text", "label").rows().stream()
                    .mapToInt(r -> tok.encode(r.text()).length).toArray();
            long over = Arrays.stream(lengths).filter(n -> n > 512).count();
            assertEquals(70, Arrays.stream(report.lengths().counts()).sum());
            assertEquals(27, over); // of 70 articles, at 126 to 2255 tokens in this 512-piece vocabulary
            assertEquals(over, report.lengths().longerThan(512));
            String last = report.lines().getLast();
            assertEquals(String.format(java.util.Locale.ROOT, "longer than 512 tokens (truncated or rejected by training): %d of 70 rows (%.1f%%)",
                    over, 100.0 * over / 70), last);
        }
    }

    @Test
    void histogramOfKnownLengths() throws IOException {
        Path f = dir.resolve("k.jsonl");
        StringBuilder b = new StringBuilder();
        for (int n : new int[] {17, 1, 2, 3, 4, 5, 8, 9, 16}) {
            long[] ids = new long[n];
            Arrays.fill(ids, 7);
            ids[0] = n; // rows differ, so none is a duplicate
            b.append("{\"input_ids\": ").append(Arrays.toString(ids)).append("}\n");
        }
        b.append("{\"input_ids\": []}\n");
        Files.writeString(f, b);
        try (Tokenizer tok = Tokenizer.load(TrainingDataTest.STORIES)) {
            DataInspection report = DataInspection.of(f, "tokens", ShippedFormats.get("tokens"), tok, 512, 8);
            String full = "#".repeat(40);
            String half = "#".repeat(20);
            assertEquals(List.of(
                    "k.jsonl: 10 rows (format tokens)",
                    "empty rows: 1",
                    "exact duplicates: 0",
                    "near duplicates: 0 (MinHash Jaccard >= 0.8)",
                    "token lengths: min 1, median 5, mean 7.2, max 17",
                    "          0-1      1  " + half,
                    "            2      1  " + half,
                    "          3-4      2  " + full,
                    "          5-8      2  " + full,
                    "         9-16      2  " + full,
                    "        17-32      1  " + half,
                    "longer than 8 tokens (truncated or rejected by training): 3 of 9 rows (33.3%)"), report.lines());
        }
    }

    @Test
    void commandPrintsTheReport() {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = run(out, err, "inspect", ClassificationDataTest.REUTERS.toString(), "--format", "classification");
        assertEquals(0, code, err.toString());
        assertEquals(List.of("reuters_tm_acq_crude.csv: 70 rows (format classification)", "empty rows: 0", "exact duplicates: 0",
                "near duplicates: 0 (MinHash Jaccard >= 0.8)", "classes: 2", "  acq       50   71.4%", "  crude     20   28.6%", WARNING),
                out.toString().lines().toList());
    }

    @Test
    void commandWithModelCountsTruncation() throws IOException {
        Path f = dir.resolve("t.jsonl");
        Files.writeString(f, "{\"text\": \"Once upon a time, there was a little girl named Lily.\"}\n{\"text\": \"Lily\"}\n");
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        // 16 and 2 tokens (BOS included), against a limit of 8.
        int code = run(out, err, "inspect", f.toString(), "--format", "text", "--model", TrainingDataTest.STORIES.toString(), "--max-seq-len", "8");
        assertEquals(0, code, err.toString());
        List<String> lines = out.toString().lines().toList();
        assertEquals("token lengths: min 2, median 2, mean 9.0, max 16", lines.get(4));
        assertEquals("longer than 8 tokens (truncated or rejected by training): 1 of 2 rows (50.0%)", lines.getLast());
    }

    @Test
    void commandFailsOnTheFirstBadRowInOneLine() throws IOException {
        Path f = dir.resolve("bad.jsonl");
        Files.writeString(f, "{\"prompt\": \"a\", \"completion\": \"b\"}\n{\"prompt\": \"a\"}\n");
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        assertEquals(1, run(out, err, "inspect", f.toString(), "--format", "prompt_completion"));
        assertEquals("attune: bad.jsonl:2: missing \"completion\" (a string); the row has prompt\n", err.toString());
        assertEquals("", out.toString());
    }

    @Test
    void anUninstalledFormatIsOneLineNamingTheInstalledOnes() {
        StringWriter err = new StringWriter();
        assertEquals(1, run(new StringWriter(), err, "inspect", "x.jsonl", "--format", "sharegpt"));
        assertEquals("attune: --format 'sharegpt' is not installed; installed: [alpaca, chat, prompt_completion, text, tokens]\n", err.toString());
    }

    @Test
    void maxSeqLenWithoutAModelIsAUsageError() {
        StringWriter err = new StringWriter();
        assertEquals(2, run(new StringWriter(), err, "inspect", "x.jsonl", "--format", "text", "--max-seq-len", "8"));
        assertTrue(err.toString().startsWith("attune: --max-seq-len needs --model"), err.toString());
    }

    /** The command under the same exit-code contract as {@code attune}'s Main: 1 with one line for bad input, 2 for bad usage. */
    static int run(StringWriter out, StringWriter err, String... args) {
        CommandLine cli = new CommandLine(new DataCommand(ShippedFormats.catalog()));
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(err, true));
        cli.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            cmd.getErr().println("attune: " + ex.getMessage().lines().findFirst().orElse(""));
            return 1;
        });
        cli.setParameterExceptionHandler((ex, a) -> {
            ex.getCommandLine().getErr().println("attune: " + ex.getMessage());
            return 2;
        });
        return cli.execute(args);
    }
}
