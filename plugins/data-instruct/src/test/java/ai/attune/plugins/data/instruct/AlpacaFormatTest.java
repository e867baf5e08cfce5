package ai.attune.plugins.data.instruct;

import ai.attune.api.data.DataException;
import ai.attune.api.data.EncodeContext;
import ai.attune.api.data.Example;
import ai.attune.api.text.CharTokenizer;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.stream.LongStream;

import static ai.attune.api.data.TestRows.row;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * Alpaca rows with a tokenizer whose ids are the characters: the prompt is Stanford Alpaca's,
 * written out here from tatsu-lab/stanford_alpaca's train.py, and only the output and EOS are learned.
 */
class AlpacaFormatTest {
    static final String WITH_INPUT = "Below is an instruction that describes a task, paired with an input that provides further context. "
            + "Write a response that appropriately completes the request.\n\n### Instruction:\nName the girl.\n\n"
            + "### Input:\nThere was a girl named Lily.\n\n### Response:\n";
    static final String NO_INPUT = "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n"
            + "### Instruction:\nName the girl.\n\n### Response:\n";
    final AlpacaFormat format = new AlpacaFormat();
    final EncodeContext context = new EncodeContext(new CharTokenizer(), 512, 512);

    Example encode(String json) throws DataException {
        return format.encode(format.parse(row("a.jsonl", 1, json)), context);
    }

    @Test
    void theInputVariantOfThePromptThenTheOutputAndEos() throws DataException {
        Example e = encode("{\"instruction\": \"Name the girl.\", \"input\": \"There was a girl named Lily.\", \"output\": \"Lily\"}");
        assertExample(WITH_INPUT, "Lily", e);
    }

    @Test
    void theNoInputVariantWhenInputIsEmptyOrAbsent() throws DataException {
        assertExample(NO_INPUT, "Lily", encode("{\"instruction\": \"Name the girl.\", \"output\": \"Lily\"}"));
        assertExample(NO_INPUT, "Lily", encode("{\"instruction\": \"Name the girl.\", \"input\": \"\", \"output\": \"Lily\"}"));
    }

    /** BOS, the prompt's characters (no loss), then the output's characters and EOS (learned). */
    static void assertExample(String prompt, String output, Example e) {
        long[] p = LongStream.concat(LongStream.of(CharTokenizer.BOS), Arrays.stream(CharTokenizer.ids(prompt))).toArray();
        long[] o = LongStream.concat(Arrays.stream(CharTokenizer.ids(output)), LongStream.of(CharTokenizer.EOS)).toArray();
        assertArrayEquals(LongStream.concat(Arrays.stream(p), Arrays.stream(o)).toArray(), e.inputIds());
        long[] labels = new long[p.length + o.length];
        Arrays.fill(labels, 0, p.length, Example.IGNORE);
        System.arraycopy(o, 0, labels, p.length, o.length);
        assertArrayEquals(labels, e.labels());
    }

    @Test
    void errorsNameTheFormatOrTheRow() {
        DataException e = assertThrows(DataException.class, () -> format.parse(row("a.jsonl", 5, "{\"instruction\": \"x\"}")));
        assertEquals("a.jsonl:5: missing \"output\" (a string); the row has instruction", e.getMessage());
        e = assertThrows(DataException.class, () -> format.parse(row("a.jsonl", 6, "{\"instruction\": \"x\", \"input\": 1, \"output\": \"y\"}")));
        assertEquals("a.jsonl:6: \"input\" must be a string, not a number (1)", e.getMessage());
        e = assertThrows(DataException.class, () -> format.check(new CharTokenizer(false, null)));
        assertEquals("format alpaca ends each completion with EOS, but the tokenizer has no eos_token id for </s>;"
                + " set eos_token in the model's tokenizer_config.json", e.getMessage());
    }
}
