package ai.attune.api.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.NullNode;

import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A model directory's {@code config.json}, read with typed getters whose errors name the file and
 * the key. Families read the keys transformers reads, with transformers' defaults.
 */
public final class ModelConfig {
    private final Path dir;
    private final Path file;
    private final JsonNode root;

    private ModelConfig(Path dir, Path file, JsonNode root) {
        this.dir = dir;
        this.file = file;
        this.root = root;
    }

    /** Reads {@code dir/config.json}. */
    public static ModelConfig read(Path dir) throws ModelLoadException {
        Path file = dir.resolve("config.json");
        try {
            return new ModelConfig(dir, file, ModelJson.readObject(file));
        } catch (NoSuchFileException e) {
            throw new ModelLoadException(dir.resolve("config.json"), "not found: " + dir + " is not a Hugging Face model directory");
        } catch (ModelLoadException e) {
            throw e;
        } catch (IOException e) {
            throw new ModelLoadException(file, "cannot be read: " + e.getMessage());
        }
    }

    /** A config from a JSON tree, e.g. one a test builds. */
    public static ModelConfig of(Path dir, JsonNode root) {
        return new ModelConfig(dir, dir.resolve("config.json"), root);
    }

    public Path dir() {
        return dir;
    }

    public Path file() {
        return file;
    }

    public JsonNode json() {
        return root;
    }

    public String modelType() {
        return stringOr("model_type", "");
    }

    public List<String> architectures() {
        List<String> out = new ArrayList<>();
        node("architectures").forEach(n -> out.add(n.asText()));
        return out;
    }

    public boolean has(String key) {
        return root.hasNonNull(key);
    }

    /** The key's node, or a null node when absent. */
    public JsonNode node(String key) {
        JsonNode n = root.get(key);
        return n == null ? NullNode.getInstance() : n;
    }

    public int requireInt(String key) throws ModelLoadException {
        JsonNode n = root.get(key);
        if (n == null || n.isNull()) {
            throw new ModelLoadException(file, "missing key '" + key + "' (an integer)");
        }
        if (!n.canConvertToInt() || !n.isIntegralNumber()) {
            throw new ModelLoadException(file, "key '" + key + "' must be an integer, found " + n);
        }
        return n.intValue();
    }

    public int intOr(String key, int fallback) throws ModelLoadException {
        return has(key) ? requireInt(key) : fallback;
    }

    public double doubleOr(String key, double fallback) throws ModelLoadException {
        JsonNode n = root.get(key);
        if (n == null || n.isNull()) {
            return fallback;
        }
        if (!n.isNumber()) {
            throw new ModelLoadException(file, "key '" + key + "' must be a number, found " + n);
        }
        return n.doubleValue();
    }

    public boolean boolOr(String key, boolean fallback) throws ModelLoadException {
        JsonNode n = root.get(key);
        if (n == null || n.isNull()) {
            return fallback;
        }
        if (!n.isBoolean()) {
            throw new ModelLoadException(file, "key '" + key + "' must be true or false, found " + n);
        }
        return n.booleanValue();
    }

    public String stringOr(String key, String fallback) {
        JsonNode n = root.get(key);
        return n == null || n.isNull() ? fallback : n.asText();
    }

    /** A failure about this config's key, for checks that span several keys. */
    public ModelLoadException error(String reason) {
        return new ModelLoadException(file, reason);
    }
}
