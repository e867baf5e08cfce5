package ai.attune.runtime.data;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.nio.file.Path;
import java.util.Optional;

/**
 * One row of a data file: a JSONL object, or a CSV record as an object of strings keyed by the
 * header. It knows where it came from, so every problem found later still names {@code file:line}.
 */
public record Row(Path file, int line, JsonNode fields) {
    public DataException error(String problem) {
        return new DataException(file, line, problem);
    }

    /** A required string field. */
    public String string(String name) throws DataException {
        return optionalString(name).orElseThrow(() -> error("missing \"" + name + "\" (a string)" + present()));
    }

    /** A string field that may be absent or null. */
    public Optional<String> optionalString(String name) throws DataException {
        JsonNode v = fields.get(name);
        if (v == null || v.isNull()) {
            return Optional.empty();
        }
        if (!v.isTextual()) {
            throw error("\"" + name + "\" must be a string, not " + kind(v));
        }
        return Optional.of(v.asText());
    }

    /**
     * An array field, or null when absent. A CSV cell holds it as JSON text ({@code "[1, 2, 3]"}),
     * since CSV has no arrays of its own.
     */
    public JsonNode optionalArray(String name, ObjectMapper json) throws DataException {
        JsonNode v = fields.get(name);
        if (v == null || v.isNull()) {
            return null;
        }
        if (v.isTextual()) {
            try {
                v = json.readTree(v.asText());
            } catch (JsonProcessingException e) {
                throw error("\"" + name + "\" must be a JSON array, but its text is not JSON: " + e.getOriginalMessage());
            }
        }
        if (v == null || !v.isArray()) {
            throw error("\"" + name + "\" must be an array, not " + kind(v));
        }
        return v;
    }

    public JsonNode array(String name, ObjectMapper json) throws DataException {
        JsonNode v = optionalArray(name, json);
        if (v == null) {
            throw error("missing \"" + name + "\" (an array)" + present());
        }
        return v;
    }

    /** The field names the row does have, so a misspelt column is easy to spot. */
    private String present() {
        var names = new java.util.ArrayList<String>();
        fields.fieldNames().forEachRemaining(names::add);
        return names.isEmpty() ? "; the row has no fields" : "; the row has " + String.join(", ", names);
    }

    static String kind(JsonNode v) {
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
