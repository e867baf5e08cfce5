package ai.attune.plugins.data.instruct;

import ai.attune.api.data.DataException;
import ai.attune.api.data.EncodeContext;
import ai.attune.api.data.Example;
import ai.attune.api.text.CharTokenizer;
import org.junit.jupiter.api.Test;

import static ai.attune.api.data.TestRows.row;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Prompt-completion rows with a tokenizer whose ids are the characters, BOS 1 and EOS 2. */
class PromptCompletionFormatTest {
    static final long X = Example.IGNORE;
    final PromptCompletionFormat format = new PromptCompletionFormat();

    @Test
    void lossOnTheCompletionAndItsEosNotOnThePrompt() throws DataException {
        Example e = format.encode(format.parse(row("pc.jsonl", 1, "{\"prompt\": \"Hi\", \"completion\": \" yo\"}")),
                new EncodeContext(new CharTokenizer(), 512, 512));
        // BOS "Hi" | " yo" EOS: 1 72 105 | 32 121 111 2
        assertArrayEquals(new long[] {1, 72, 105, 32, 121, 111, 2}, e.inputIds());
        assertArrayEquals(new long[] {X, X, X, 32, 121, 111, 2}, e.labels());
        assertEquals(4, e.lossTokens());
    }

    @Test
    void promptAndCompletionAreWhatDuplicatesAreFoundIn() throws DataException {
        assertEquals("Q?\nA.", format.parse(row("pc.jsonl", 1, "{\"prompt\": \"Q?\", \"completion\": \"A.\"}")).text());
    }

    @Test
    void aMissingFieldNamesTheLine() {
        DataException e = assertThrows(DataException.class, () -> format.parse(row("pc.jsonl", 2, "{\"prompt\": \"a\", \"answer\": \"b\"}")));
        assertEquals("pc.jsonl:2: missing \"completion\" (a string); the row has prompt, answer", e.getMessage());
    }

    @Test
    void aTokenizerWithoutEosIsRefusedBeforeAnyRow() {
        DataException e = assertThrows(DataException.class, () -> format.check(new CharTokenizer(false, null)));
        assertEquals("format prompt_completion ends each completion with EOS, but the tokenizer has no eos_token id for </s>;"
                + " set eos_token in the model's tokenizer_config.json", e.getMessage());
    }
}
