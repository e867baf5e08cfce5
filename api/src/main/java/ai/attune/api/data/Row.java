package ai.attune.api.data;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectReader;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * One row of a data file: a JSONL object, a CSV record (strings keyed by the header), an ARFF
 * instance, or a paragraph of a {@code .txt} file (as a {@code text} field). It knows where it came
 * from, so every problem found later still names {@code file:line}. Formats read it through typed
 * getters, each of which fails in one line naming the key; nothing here changes the row.
 */
public final class Row {
    // An ObjectReader is immutable, so one can serve every row.
    private static final ObjectReader JSON = new ObjectMapper().reader();

    private final Path file;
    private final int line;
    private final ObjectNode fields;

    public Row(Path file, int line, ObjectNode fields) {
        this.file = file;
        this.line = line;
        this.fields = fields;
    }

    public Path file() {
        return file;
    }

    public int line() {
        return line;
    }

    /** A problem with this row: {@code file:line: problem}. */
    public DataException error(String problem) {
        return new DataException(file, line, problem);
    }

    /** A required string field. */
    public String string(String key) throws DataException {
        return optionalString(key).orElseThrow(() -> error("missing \"" + key + "\" (a string)" + present()));
    }

    /** A string field that may be absent or null. */
    public Optional<String> optionalString(String key) throws DataException {
        JsonNode v = fields.get(key);
        if (v == null || v.isNull()) {
            return Optional.empty();
        }
        if (!v.isTextual()) {
            throw error("\"" + key + "\" must be a string, not " + describe(v));
        }
        return Optional.of(v.asText());
    }

    /** A required array field (see {@link #optionalArray}). */
    public JsonNode array(String key) throws DataException {
        return optionalArray(key).orElseThrow(() -> error("missing \"" + key + "\" (an array)" + present()));
    }

    /**
     * An array field that may be absent or null. A CSV cell holds it as JSON text ({@code "[1, 2, 3]"}),
     * since CSV has no arrays of its own.
     */
    public Optional<JsonNode> optionalArray(String key) throws DataException {
        JsonNode v = fields.get(key);
        if (v == null || v.isNull()) {
            return Optional.empty();
        }
        if (v.isTextual()) {
            try {
                v = JSON.readTree(v.asText());
            } catch (JsonProcessingException e) {
                throw error("\"" + key + "\" must be a JSON array, but its text is not JSON: " + e.getOriginalMessage());
            }
        }
        if (v == null || !v.isArray()) {
            throw error("\"" + key + "\" must be an array, not " + describe(v));
        }
        return Optional.of(v);
    }

    /** A field as it was read, or null when absent: for a field with rules of its own (a label that may be a number). */
    public JsonNode value(String key) {
        return fields.get(key);
    }

    /** The field names the row does have, so a misspelt column is easy to spot. */
    private String present() {
        List<String> names = new ArrayList<>();
        fields.fieldNames().forEachRemaining(names::add);
        return names.isEmpty() ? "; the row has no fields" : "; the row has " + String.join(", ", names);
    }

    /** A value's kind as an error message names it: {@code "a number (2.5)"}, {@code "an object"}. */
    public static String describe(JsonNode v) {
        if (v == null || v.isMissingNode()) {
            return "nothing";
        }
        return switch (v.getNodeType()) {
            case ARRAY -> "an array";
            case OBJECT, POJO -> "an object";
            case NUMBER -> "a number (" + v + ")";
            case BOOLEAN -> "a boolean (" + v + ")";
            case STRING -> "a string";
            case BINARY -> "binary data";
            case NULL, MISSING -> "null";
        };
    }
}
