package ai.attune.plugins.data.text;

import ai.attune.api.data.DataException;
import ai.attune.api.data.EncodeContext;
import ai.attune.api.data.Example;
import ai.attune.api.data.Row;
import ai.attune.api.data.Sample;
import ai.attune.api.spi.DataFormat;
import com.fasterxml.jackson.databind.JsonNode;
import org.osgi.service.component.annotations.Component;

import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * {@code format: tokens}: pre-tokenized {@code input_ids}, with {@code labels} aligned to them
 * (-100 for no loss) or, when absent, the ids themselves. The ids are the model's, so they are
 * checked against its vocabulary, not the tokenizer's.
 */
@Component(service = DataFormat.class, property = DataFormat.PROPERTY + "=tokens")
public final class TokensFormat implements DataFormat<TokensFormat.Tokens> {
    /** A row's ids and labels. */
    public record Tokens(Row row, long[] ids, long[] labels) implements Sample {
        /** The ids as words, so that duplicate detection compares sequences. */
        @Override
        public String text() {
            return Arrays.stream(ids).mapToObj(Long::toString).collect(Collectors.joining(" "));
        }
    }

    @Override
    public Tokens parse(Row row) throws DataException {
        long[] ids = ints(row, "input_ids", row.array("input_ids"));
        JsonNode l = row.optionalArray("labels").orElse(null);
        long[] labels = l == null ? ids.clone() : ints(row, "labels", l);
        if (labels.length != ids.length) {
            throw row.error("\"labels\" has " + labels.length + " entries but \"input_ids\" has " + ids.length + "; they must align");
        }
        return new Tokens(row, ids, labels);
    }

    private static long[] ints(Row row, String name, JsonNode a) throws DataException {
        long[] out = new long[a.size()];
        for (int i = 0; i < out.length; i++) {
            JsonNode v = a.get(i);
            if (!v.isIntegralNumber() || !v.canConvertToLong()) {
                throw row.error(name + "[" + i + "] is " + Row.describe(v) + "; token ids are integers");
            }
            out[i] = v.asLong();
        }
        return out;
    }

    @Override
    public Example encode(Tokens sample, EncodeContext context) throws DataException {
        int vocab = context.vocabSize();
        long[] ids = sample.ids();
        long[] labels = sample.labels();
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || ids[i] >= vocab) {
                throw sample.row().error("input_ids[" + i + "] = " + ids[i] + " is not a token id in [0, " + vocab + ")");
            }
            if (labels[i] != Example.IGNORE && (labels[i] < 0 || labels[i] >= vocab)) {
                throw sample.row().error("labels[" + i + "] = " + labels[i] + " is neither -100 (no loss) nor a token id in [0, " + vocab + ")");
            }
        }
        return new Example(ids.clone(), labels.clone());
    }
}
