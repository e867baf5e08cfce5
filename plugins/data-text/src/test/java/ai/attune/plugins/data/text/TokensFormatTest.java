package ai.attune.plugins.data.text;

import ai.attune.api.data.DataException;
import ai.attune.api.data.EncodeContext;
import ai.attune.api.data.Example;
import org.junit.jupiter.api.Test;

import static ai.attune.api.data.TestRows.row;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Pre-tokenized rows, checked against a model of 512 ids; no tokenizer is consulted. */
class TokensFormatTest {
    static final long X = Example.IGNORE;
    final TokensFormat format = new TokensFormat();
    final EncodeContext context = new EncodeContext(null, 512, 512);

    Example encode(String json) throws DataException {
        return format.encode(format.parse(row("k.jsonl", 1, json)), context);
    }

    @Test
    void labelsDefaultToTheIdsAndGivenOnesAreKept() throws DataException {
        Example e = encode("{\"input_ids\": [1, 403, 407, 511]}");
        assertArrayEquals(new long[] {1, 403, 407, 511}, e.inputIds());
        assertArrayEquals(new long[] {1, 403, 407, 511}, e.labels());
        Example given = encode("{\"input_ids\": [1, 403, 407], \"labels\": [-100, -100, 407]}");
        assertArrayEquals(new long[] {X, X, 407}, given.labels());
        assertEquals(1, given.lossTokens());
    }

    @Test
    void aCsvCellHoldsTheArrayAsJsonText() throws DataException {
        Example e = encode("{\"input_ids\": \"[1, 5, 6]\", \"labels\": \"[-100, 5, 6]\"}");
        assertArrayEquals(new long[] {1, 5, 6}, e.inputIds());
        assertArrayEquals(new long[] {X, 5, 6}, e.labels());
    }

    @Test
    void theIdsAsWordsAreWhatDuplicatesAreFoundIn() throws DataException {
        assertEquals("1 403 407", format.parse(row("k.jsonl", 1, "{\"input_ids\": [1, 403, 407]}")).text());
    }

    @Test
    void badIdsNameTheLineTheKeyAndThePosition() {
        assertError("k.jsonl:1: input_ids[1] = 512 is not a token id in [0, 512)", "{\"input_ids\": [1, 512]}");
        assertError("k.jsonl:1: input_ids[0] = -1 is not a token id in [0, 512)", "{\"input_ids\": [-1]}");
        assertError("k.jsonl:1: labels[2] = 600 is neither -100 (no loss) nor a token id in [0, 512)",
                "{\"input_ids\": [1, 2, 3], \"labels\": [-100, 2, 600]}");
        assertError("k.jsonl:1: \"labels\" has 2 entries but \"input_ids\" has 3; they must align", "{\"input_ids\": [1, 2, 3], \"labels\": [1, 2]}");
        assertError("k.jsonl:1: input_ids[1] is a number (2.5); token ids are integers", "{\"input_ids\": [1, 2.5]}");
        assertError("k.jsonl:1: missing \"input_ids\" (an array); the row has ids", "{\"ids\": [1]}");
        assertError("k.jsonl:1: \"input_ids\" must be an array, not an object", "{\"input_ids\": {\"a\": 1}}");
        assertError("k.jsonl:1: \"input_ids\" must be a JSON array, but its text is not JSON: Unrecognized token 'one': was expecting "
                + "(JSON String, Number, Array, Object or token 'null', 'true' or 'false')", "{\"input_ids\": \"one two\"}");
    }

    void assertError(String expected, String json) {
        DataException e = assertThrows(DataException.class, () -> encode(json));
        assertEquals(expected, e.getMessage());
    }
}
