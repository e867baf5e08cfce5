package ai.attune.runtime.data;

import ai.attune.api.data.DataException;
import ai.attune.api.data.Example;
import ai.attune.api.data.Sample;
import ai.attune.api.spi.DataFormat;
import ai.attune.runtime.text.Tokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.LongStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Each causal-LM format's ids and labels with the real stories260K tokenizer. The oracle for ids is
 * llama2.c's published stories260K sample, "Once upon a time, there was a little girl named Lily. ...",
 * whose ids (TokenizerTest) are the tokenizer's own encoding of that text after BOS (1).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class TrainingDataTest {
    static final Path STORIES = Path.of("../../shared/models/stories260K");
    static final long X = Example.IGNORE;
    // "Once upon a time," = 403 407 261 378 432; "there was a little girl named Lily." = 383 286 261 376 298 315 421 395 317 426.
    static final long[] ONCE_UPON_A_TIME_COMMA = {403, 407, 261, 378, 432};
    static final long[] THERE_WAS_A_LITTLE_GIRL = {383, 286, 261, 376, 298, 315, 421, 395, 317, 426};
    static final DataFormat<Sample> TEXT = ShippedFormats.get("text");

    Tokenizer tok;
    @TempDir
    Path dir;

    @BeforeAll
    void loadTokenizer() throws IOException {
        tok = Tokenizer.load(STORIES);
    }

    @AfterAll
    void closeTokenizer() {
        tok.close();
    }

    TrainingData load(String name, String format, int maxSeqLen, boolean truncate, String... lines) throws IOException {
        Path f = dir.resolve(name);
        Files.writeString(f, String.join("\n", lines) + "\n");
        return TrainingData.load(f, new DataSpec(format, maxSeqLen, truncate, false, null), ShippedFormats.get(format), tok, 512, 512);
    }

    static long[] concat(long[]... parts) {
        return Arrays.stream(parts).flatMapToLong(LongStream::of).toArray();
    }

    static long[] ignore(int n) {
        long[] a = new long[n];
        Arrays.fill(a, X);
        return a;
    }

    @Test
    void textHasBosAndLossOnEveryTokenAndNoEos() throws IOException {
        var data = load("t.jsonl", "text", 512, false, "{\"text\": \"Once upon a time, there was a little girl named Lily.\"}");
        long[] expected = concat(new long[] {1}, ONCE_UPON_A_TIME_COMMA, THERE_WAS_A_LITTLE_GIRL);
        Example e = data.examples().getFirst();
        assertArrayEquals(expected, e.inputIds());
        assertArrayEquals(expected, e.labels());
        assertEquals(15, e.lossTokens());
    }

    @Test
    void promptCompletionMasksThePromptAndEndsWithEos() throws IOException {
        var data = load("pc.jsonl", "prompt_completion", 512, false,
                "{\"prompt\": \"Once upon a time,\", \"completion\": \" there was a little girl named Lily.\"}");
        Example e = data.examples().getFirst();
        // BOS + prompt, then the completion (sentencepiece marks its first word start either way), then EOS (2).
        assertArrayEquals(concat(new long[] {1}, ONCE_UPON_A_TIME_COMMA, THERE_WAS_A_LITTLE_GIRL, new long[] {2}), e.inputIds());
        assertArrayEquals(concat(ignore(6), THERE_WAS_A_LITTLE_GIRL, new long[] {2}), e.labels());
        // The same composition with any strings: encode(prompt) ++ encodeRaw(completion) ++ [eos].
        var other = load("pc2.jsonl", "prompt_completion", 512, false, "{\"prompt\": \"Q: Who?\\nA:\", \"completion\": \" Lily\"}")
                .examples().getFirst();
        long[] p = tok.encode("Q: Who?\nA:");
        long[] c = tok.encodeRaw(" Lily");
        assertArrayEquals(concat(p, c, new long[] {2}), other.inputIds());
        assertArrayEquals(concat(ignore(p.length), c, new long[] {2}), other.labels());
    }

    @Test
    void alpacaUsesTheStanfordPromptsAndLearnsTheOutput() throws IOException {
        var data = load("a.jsonl", "alpaca", 512, false,
                "{\"instruction\": \"Name the girl.\", \"input\": \"Once upon a time, there was a little girl named Lily.\", \"output\": \"Lily\"}",
                "{\"instruction\": \"Tell a story.\", \"output\": \"Once upon a time,\"}",
                "{\"instruction\": \"Say hi.\", \"input\": \"\", \"output\": \"Hi\"}");
        String withInput = "Below is an instruction that describes a task, paired with an input that provides further context. "
                + "Write a response that appropriately completes the request.\n\n### Instruction:\nName the girl.\n\n"
                + "### Input:\nOnce upon a time, there was a little girl named Lily.\n\n### Response:\n";
        String noInput = "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n"
                + "### Instruction:\nTell a story.\n\n### Response:\n";
        String emptyInput = noInput.replace("Tell a story.", "Say hi.");
        String[] prompts = {withInput, noInput, emptyInput};
        String[] outputs = {"Lily", "Once upon a time,", "Hi"};
        for (int i = 0; i < 3; i++) {
            long[] p = tok.encode(prompts[i]);
            long[] o = tok.encodeRaw(outputs[i]);
            Example e = data.examples().get(i);
            assertArrayEquals(concat(p, o, new long[] {2}), e.inputIds(), "row " + i);
            assertArrayEquals(concat(ignore(p.length), o, new long[] {2}), e.labels(), "row " + i);
        }
        assertArrayEquals(ONCE_UPON_A_TIME_COMMA, tok.encodeRaw(outputs[1]));
    }

    @Test
    void tokensDefaultLabelsToIdsAndKeepGivenOnes() throws IOException {
        var data = load("k.jsonl", "tokens", 512, false,
                "{\"input_ids\": [1, 403, 407, 511]}",
                "",
                "{\"input_ids\": [1, 403, 407], \"labels\": [-100, -100, 407]}");
        assertArrayEquals(new long[] {1, 403, 407, 511}, data.examples().get(0).labels());
        assertArrayEquals(new long[] {X, X, 407}, data.examples().get(1).labels());
    }

    @Test
    void tokensInCsvCellsAreJsonArrays() throws IOException {
        var data = load("k.csv", "tokens", 512, false, "input_ids,labels", "\"[1, 5, 6]\",\"[-100, 5, 6]\"");
        assertArrayEquals(new long[] {1, 5, 6}, data.examples().getFirst().inputIds());
        assertArrayEquals(new long[] {X, 5, 6}, data.examples().getFirst().labels());
    }

    @Test
    void malformedRowsNameFileAndLine() {
        assertError("k.jsonl:2: input_ids[1] = 512 is not a token id in [0, 512)", "tokens",
                "{\"input_ids\": [1, 2]}", "{\"input_ids\": [1, 512]}");
        assertError("k.jsonl:1: input_ids[0] = -1 is not a token id in [0, 512)", "tokens", "{\"input_ids\": [-1]}");
        assertError("k.jsonl:1: labels[2] = 600 is neither -100 (no loss) nor a token id in [0, 512)", "tokens",
                "{\"input_ids\": [1, 2, 3], \"labels\": [-100, 2, 600]}");
        assertError("k.jsonl:3: \"labels\" has 2 entries but \"input_ids\" has 3; they must align", "tokens",
                "{\"input_ids\": [1, 2]}", "", "{\"input_ids\": [1, 2, 3], \"labels\": [1, 2]}");
        assertError("k.jsonl:1: input_ids[1] is a number (2.5); token ids are integers", "tokens", "{\"input_ids\": [1, 2.5]}");
        assertError("k.jsonl:1: missing \"input_ids\" (an array); the row has ids", "tokens", "{\"ids\": [1]}");
        assertError("k.jsonl:2: missing \"completion\" (a string); the row has prompt, answer", "prompt_completion",
                "{\"prompt\": \"a\", \"completion\": \"b\"}", "{\"prompt\": \"a\", \"answer\": \"b\"}");
        assertError("k.jsonl:1: \"text\" must be a string, not a number (3)", "text", "{\"text\": 3}");
        assertError("k.jsonl:1: must be a JSON object, not an array", "text", "[1, 2]");
        assertError("k.jsonl:1: missing \"output\" (a string); the row has instruction", "alpaca", "{\"instruction\": \"x\"}");
    }

    @Test
    void badJsonNamesTheLine() throws IOException {
        Path f = dir.resolve("bad.jsonl");
        Files.writeString(f, "{\"text\": \"ok\"}\n\n{\"text\": \"unterminated}\n");
        DataException e = assertThrows(DataException.class, () -> TrainingData.load(f, new DataSpec("text", 64, false, false, null), TEXT, tok, 512, 512));
        assertTrue(e.getMessage().startsWith("bad.jsonl:3: not valid JSON: "), e.getMessage());
        assertEquals(1, e.getMessage().lines().count());
    }

    @Test
    void tooLongFailsWithoutTruncationAndKeepsTheHeadWithIt() throws IOException {
        String row = "{\"prompt\": \"Once upon a time,\", \"completion\": \" there was a little girl named Lily.\"}"; // 17 tokens
        assertError("k.jsonl:1: 17 tokens exceed the limit of 8 (data.max_seq_len); shorten the row, raise data.max_seq_len,"
                + " or set data.truncate: true", "prompt_completion", 8, row);
        // The model's positions bind when they are the smaller limit.
        Path f = dir.resolve("k.jsonl");
        DataException e = assertThrows(DataException.class, () -> TrainingData.load(f, new DataSpec("prompt_completion", 0, false, false, null),
                ShippedFormats.get("prompt_completion"), tok, 512, 16));
        assertEquals("k.jsonl:1: 17 tokens exceed the limit of 16 (the model's 16 positions); shorten the row, raise data.max_seq_len,"
                + " or set data.truncate: true", e.getMessage());

        var data = load("k.jsonl", "prompt_completion", 8, true, row);
        Example ex = data.examples().getFirst();
        assertArrayEquals(new long[] {1, 403, 407, 261, 378, 432, 383, 286}, ex.inputIds());
        assertArrayEquals(new long[] {X, X, X, X, X, X, 383, 286}, ex.labels());
        assertTrue(data.log().contains("truncated 1 row to 8 tokens (line 1)"), data.log().toString());
    }

    @Test
    void rowsWithNothingLeftToLearnAreDroppedAndLogged() throws IOException {
        var data = load("k.jsonl", "prompt_completion", 6, true,
                "{\"prompt\": \"Once upon a time,\", \"completion\": \" there was a little girl named Lily.\"}",
                "{\"prompt\": \"Once\", \"completion\": \" upon\"}",
                "{\"prompt\": \"\", \"completion\": \"\"}");
        assertEquals(1, data.examples().size());
        assertEquals(List.of(
                "read 3 rows from k.jsonl (format prompt_completion)",
                "skipped 1 empty row (line 3)",
                "dedup: no exact or near duplicates in 2 rows",
                "truncated 1 row to 6 tokens (line 1)",
                "dropped 1 row with no token to learn from (all labels -100 after truncation; line 1)",
                "1 example, 4 tokens, 2 with loss"), data.log());
    }

    @Test
    void textFilesAreParagraphsOrLines() throws IOException {
        Path p = dir.resolve("prose.txt");
        Files.writeString(p, "Call me Ishmael. Some years\nago, never mind how long.\n\n\nIt is a way I have\nof driving off the spleen.\n");
        TrainingData prose = TrainingData.load(p, new DataSpec("text", 64, false, false, null), TEXT, tok, 512, 512);
        assertEquals(2, prose.examples().size());
        assertArrayEquals(tok.encode("Call me Ishmael. Some years ago, never mind how long."), prose.examples().get(0).inputIds());
        Path l = dir.resolve("lines.txt");
        Files.writeString(l, "The birch canoe slid.\nGlue the sheet.\nIt is easy to tell.\n");
        TrainingData lines = TrainingData.load(l, new DataSpec("text", 64, false, false, null), TEXT, tok, 512, 512);
        assertEquals(3, lines.examples().size());
        assertArrayEquals(tok.encode("Glue the sheet."), lines.examples().get(1).inputIds());
    }

    @Test
    void setupProblemsFailBeforeAnyRow() throws IOException {
        Path f = dir.resolve("x.parquet");
        Files.writeString(f, "hello\n");
        DataException e = assertThrows(DataException.class, () -> TrainingData.load(f, new DataSpec("text", 64, false, false, null), TEXT, tok, 512, 512));
        assertTrue(e.getMessage().endsWith("x.parquet: unknown data file type; use .jsonl (one JSON object per line), .csv (with a header row), .arff or .txt (paragraphs)"),
                e.getMessage());
        Path c = dir.resolve("c.jsonl");
        Files.writeString(c, "{\"messages\": []}\n");
        e = assertThrows(DataException.class, () -> TrainingData.load(c, new DataSpec("chat", 64, false, false, null), ShippedFormats.get("chat"), tok, 512, 512));
        assertTrue(e.getMessage().contains("tokenizer_config.json has none"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new DataSpec("text", 64, false, false, "oversample"));
        IllegalArgumentException unknown = assertThrows(IllegalArgumentException.class, () -> ShippedFormats.get("jsonl"));
        assertEquals("data.format 'jsonl' is not installed; installed: [alpaca, chat, prompt_completion, text, tokens]", unknown.getMessage());
    }

    void assertError(String expected, String format, String... lines) {
        assertError(expected, format, 512, lines);
    }

    void assertError(String expected, String format, int maxSeqLen, String... lines) {
        DataException e = assertThrows(DataException.class, () -> load("k.jsonl", format, maxSeqLen, false, lines));
        assertEquals(expected, e.getMessage());
    }
}
