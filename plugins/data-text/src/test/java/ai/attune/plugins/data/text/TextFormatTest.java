package ai.attune.plugins.data.text;

import ai.attune.api.data.DataException;
import ai.attune.api.data.EncodeContext;
import ai.attune.api.data.Example;
import ai.attune.api.text.CharTokenizer;
import org.junit.jupiter.api.Test;

import static ai.attune.api.data.TestRows.row;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** {@code text} rows with a tokenizer whose ids are the characters: BOS (1), then "Hi!" = 72 105 33. */
class TextFormatTest {
    final TextFormat format = new TextFormat();
    final EncodeContext context = new EncodeContext(new CharTokenizer(), 512, 512);

    @Test
    void lossOnEveryTokenAfterTheTokenizersBosAndNoEos() throws DataException {
        Example e = format.encode(format.parse(row("t.jsonl", 1, "{\"text\": \"Hi!\"}")), context);
        assertArrayEquals(new long[] {1, 72, 105, 33}, e.inputIds());
        assertArrayEquals(new long[] {1, 72, 105, 33}, e.labels());
        assertEquals(3, e.lossTokens()); // position 0 is nothing's target
    }

    @Test
    void theTextIsWhatDuplicatesAreFoundIn() throws DataException {
        assertEquals("Call me Ishmael.", format.parse(row("t.jsonl", 1, "{\"text\": \"Call me Ishmael.\", \"id\": 4}")).text());
    }

    @Test
    void aMissingOrMistypedTextNamesTheLineAndTheFields() {
        DataException e = assertThrows(DataException.class, () -> format.parse(row("t.jsonl", 3, "{\"prompt\": \"a\", \"id\": 1}")));
        assertEquals("t.jsonl:3: missing \"text\" (a string); the row has prompt, id", e.getMessage());
        e = assertThrows(DataException.class, () -> format.parse(row("t.jsonl", 4, "{\"text\": 3}")));
        assertEquals("t.jsonl:4: \"text\" must be a string, not a number (3)", e.getMessage());
    }
}
