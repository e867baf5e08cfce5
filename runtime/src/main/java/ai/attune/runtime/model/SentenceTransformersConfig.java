package ai.attune.runtime.model;

import ai.attune.api.model.ModelJson;
import com.fasterxml.jackson.databind.JsonNode;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The prompts of a sentence-transformers directory's {@value #FILE}: named prefixes such as
 * e5's {@code "query: "}, and the one applied when none is asked for ({@code default_prompt_name}).
 * {@link #prompt} resolves them as {@code SentenceTransformer.encode} does: an explicit prompt text
 * wins, then a prompt name, then the default; no prompt is the empty prefix.
 *
 * @param file              where it was read from, for messages
 * @param prompts           name to prefix, in file order
 * @param defaultPromptName the name applied by default, or null for none
 */
public record SentenceTransformersConfig(Path file, Map<String, String> prompts, String defaultPromptName) {
    public static final String FILE = "config_sentence_transformers.json";

    public SentenceTransformersConfig {
        prompts = Collections.unmodifiableMap(new LinkedHashMap<>(prompts));
    }

    /** The directory's prompts; a directory without {@value #FILE} has none. */
    public static SentenceTransformersConfig read(Path dir) throws IOException {
        Path file = dir.resolve(FILE);
        if (!Files.isRegularFile(file)) {
            return new SentenceTransformersConfig(file, Map.of(), null);
        }
        JsonNode root = ModelJson.readObject(file);
        Map<String, String> prompts = new LinkedHashMap<>();
        JsonNode p = root.path("prompts");
        if (!p.isMissingNode() && !p.isNull() && !p.isObject()) {
            throw new IOException(file + ": 'prompts' must map names to prefix texts, found " + p);
        }
        for (Map.Entry<String, JsonNode> e : p.properties()) {
            if (!e.getValue().isTextual()) {
                throw new IOException(file + ": prompts." + e.getKey() + " must be a text, found " + e.getValue());
            }
            prompts.put(e.getKey(), e.getValue().asText());
        }
        JsonNode d = root.path("default_prompt_name");
        String defaultName = d.isTextual() ? d.asText() : null;
        if (defaultName != null && !prompts.containsKey(defaultName)) {
            throw new IOException(file + ": default_prompt_name '" + defaultName + "' is not among its prompts " + prompts.keySet());
        }
        return new SentenceTransformersConfig(file, prompts, defaultName);
    }

    /**
     * The prefix for each text: {@code promptText} when not null (the empty text turns the default
     * off), else the prompt named {@code promptName}, else the default prompt, else none.
     *
     * @throws IllegalArgumentException naming the file and its prompts when {@code promptName} is not one of them
     */
    public String prompt(String promptName, String promptText) {
        if (promptText != null) {
            return promptText;
        }
        if (promptName != null) {
            String p = prompts.get(promptName);
            if (p == null) {
                throw new IllegalArgumentException("prompt name '" + promptName + "' is not in " + file
                        + (prompts.isEmpty() ? ", which defines no prompts" : "; its prompts: " + String.join(", ", prompts.keySet())));
            }
            return p;
        }
        return defaultPromptName == null ? "" : prompts.get(defaultPromptName);
    }
}
