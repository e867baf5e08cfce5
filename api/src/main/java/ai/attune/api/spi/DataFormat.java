package ai.attune.api.spi;

import java.util.Map;

/**
 * A training data format ({@code text}, {@code tokens}, {@code alpaca}, {@code chat}, ...),
 * registered with {@code attune.data.format=<name>}.
 */
public interface DataFormat {
    String PROPERTY = "attune.data.format";

    /** The problem with one raw row (a JSONL object or CSV record), or null when the row is valid. */
    String validate(Map<String, Object> row);
}
