package ai.attune.api.data;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.UncheckedIOException;
import java.nio.file.Path;

/** Rows as the runtime's readers make them, for data formats' tests. */
public final class TestRows {
    private TestRows() {}

    /** Line {@code line} of {@code file}, holding the JSON object {@code json}. */
    public static Row row(String file, int line, String json) {
        try {
            return new Row(Path.of(file), line, (ObjectNode) new ObjectMapper().readTree(json));
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
    }
}
