package ai.attune.api.model;

import ai.attune.api.io.TextFile;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.file.Path;

/**
 * Reads the JSON files of a model directory ({@code config.json}, {@code tokenizer.json},
 * {@code generation_config.json}, {@code adapter_config.json}, ...). Every way a file can fail to
 * be a JSON object (bad bytes, bad syntax, nesting past the parser's limit, not an object) is a
 * {@link ModelLoadException} of one line naming the file and the position.
 */
public final class ModelJson {
    private static final ObjectMapper JSON = new ObjectMapper();

    private ModelJson() {}

    /** The file's top-level JSON object; a missing file is the caller's {@link java.nio.file.NoSuchFileException}. */
    public static JsonNode readObject(Path file) throws IOException {
        return parseObject(file, read(file));
    }

    /** The file's text, decoded strictly as UTF-8. */
    public static String read(Path file) throws IOException {
        try {
            return TextFile.read(file);
        } catch (TextFile.NotUtf8Exception e) {
            throw new ModelLoadException(file, "line " + e.line() + ": not UTF-8 text");
        }
    }

    /** {@code text}, the contents of {@code file}, as a JSON object. */
    public static JsonNode parseObject(Path file, String text) throws ModelLoadException {
        JsonNode node;
        try {
            node = JSON.readTree(text);
        } catch (JsonProcessingException e) {
            throw new ModelLoadException(file, "is not valid JSON: " + describe(e));
        }
        if (node == null || !node.isObject()) {
            throw new ModelLoadException(file, "is not a JSON object");
        }
        return node;
    }

    /** Jackson's reason in one line, with the position. */
    static String describe(JsonProcessingException e) {
        String m = e.getOriginalMessage() == null ? e.getClass().getSimpleName() : e.getOriginalMessage().lines().findFirst().orElse("");
        JsonLocation at = e.getLocation();
        return at == null || at.getLineNr() < 1 ? m : "line " + at.getLineNr() + ", column " + at.getColumnNr() + ": " + m;
    }
}
