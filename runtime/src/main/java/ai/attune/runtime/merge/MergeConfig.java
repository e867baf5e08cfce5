package ai.attune.runtime.merge;

import ai.attune.api.spi.MergeParameter;
import ai.attune.api.spi.Merger;
import ai.attune.api.tensor.DType;
import ai.attune.runtime.train.RecipeLoader;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Function;

/**
 * A merge config in mergekit's schema: {@code merge_method}, {@code base_model}, {@code models}
 * (each a {@code model} with its {@code parameters}), top-level {@code parameters}, {@code dtype},
 * {@code out_dtype}, {@code tokenizer_source}; plus Attune's {@code seed}. Keys and parameter names
 * are checked against the merge method's schema; a wrong one is refused with its path and the
 * nearest known name.
 *
 * @param models the {@code models} entries in order
 */
public record MergeConfig(Path source, ObjectNode tree, String method, String baseModel, List<Model> models, JsonNode parameters,
                          DType dtype, DType outDtype, String tokenizerSource, Long seed) {
    /** One {@code models} entry: a model reference and its own parameters (or null). */
    public record Model(String model, JsonNode parameters) {}

    private static final Set<String> KEYS = Set.of("merge_method", "base_model", "models", "parameters", "dtype", "out_dtype",
            "tokenizer_source", "seed");
    private static final Set<String> UNSUPPORTED = Set.of("slices", "modules", "tokenizer", "chat_template");
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
    /** A merge reads a chunk of every model at once; past this many its buffers would not stay small. */
    static final int MAX_MODELS = 256;

    /** Reads a config file as a tree; a file that is not a YAML mapping is one line. */
    public static ObjectNode read(Path file) throws IOException {
        String text;
        try {
            text = Files.readString(file);
        } catch (NoSuchFileException e) {
            throw new MergeException(file + ": not found");
        } catch (java.nio.charset.MalformedInputException e) {
            throw new MergeException(file.getFileName() + ": not valid UTF-8");
        }
        JsonNode root;
        try {
            root = YAML.readTree(text);
        } catch (JsonProcessingException e) {
            throw new MergeException(file.getFileName() + ": not valid YAML: " + e.getOriginalMessage().lines().findFirst().orElse(""));
        }
        if (!(root instanceof ObjectNode o)) {
            throw new MergeException(file.getFileName() + ": a merge config is a YAML mapping (merge_method, base_model, models, parameters, ...)");
        }
        return o;
    }

    /**
     * Binds a config tree against the installed merge methods.
     *
     * @param mergers the installed merge methods by name, or null when the name is not installed
     * @param installed their names, for the error
     */
    public static MergeConfig bind(Path source, ObjectNode tree, Function<String, Merger> mergers, Set<String> installed) {
        String where = source.getFileName().toString();
        for (var it = tree.fieldNames(); it.hasNext(); ) {
            String key = it.next();
            if (UNSUPPORTED.contains(key)) {
                throw new MergeException(where + ": '" + key + "' is not supported; list whole models under 'models'");
            }
            if (!KEYS.contains(key)) {
                throw new MergeException(where + ": unknown key '" + key + "'" + RecipeLoader.didYouMean(key, KEYS));
            }
        }
        String method = text(tree, "merge_method", where, true);
        Merger merger = mergers.apply(method);
        if (merger == null) {
            throw new MergeException(where + ": merge_method '" + method + "' is not installed" + RecipeLoader.didYouMean(method, installed)
                    + "; installed: " + installed);
        }
        String base = text(tree, "base_model", where, false);
        if (merger.requiresBaseModel() && base == null) {
            throw new MergeException(where + ": merge_method " + method + " needs base_model (task vectors are differences from it)");
        }
        Set<String> known = new LinkedHashSet<>();
        merger.parameters().forEach(p -> known.add(p.name()));
        merger.tensorParameters().forEach(p -> known.add(p.name()));
        JsonNode models = tree.get("models");
        if (models == null || !models.isArray() || models.isEmpty()) {
            throw new MergeException(where + ": models: expected a list of {model, parameters}");
        }
        if (models.size() > MAX_MODELS) {
            throw new MergeException(where + ": models: " + models.size() + " entries; a merge takes at most " + MAX_MODELS);
        }
        List<Model> list = new ArrayList<>();
        for (int i = 0; i < models.size(); i++) {
            JsonNode m = models.get(i);
            String at = where + ": models[" + i + "]";
            if (m.isTextual()) { // a bare reference is accepted as mergekit's ModelReference is
                list.add(new Model(m.textValue(), null));
                continue;
            }
            if (!m.isObject()) {
                throw new MergeException(at + ": expected {model, parameters}");
            }
            for (var it = m.fieldNames(); it.hasNext(); ) {
                String key = it.next();
                if (!key.equals("model") && !key.equals("parameters")) {
                    throw new MergeException(at + ": unknown key '" + key + "'" + RecipeLoader.didYouMean(key, List.of("model", "parameters")));
                }
            }
            String model = text((ObjectNode) m, "model", at, true);
            JsonNode params = m.get("parameters");
            checkParameters(params, at + ".parameters", known, merger.tensorParameters());
            list.add(new Model(model, params == null || params.isNull() ? null : params));
        }
        JsonNode params = tree.get("parameters");
        checkParameters(params, where + ": parameters", known, null);
        Long seed = null;
        if (tree.has("seed")) {
            if (!tree.get("seed").canConvertToLong()) {
                throw new MergeException(where + ": seed: expected an integer, found " + tree.get("seed"));
            }
            seed = tree.get("seed").longValue();
        }
        return new MergeConfig(source, tree, method, base, List.copyOf(list), params == null || params.isNull() ? null : params,
                dtype(tree, "dtype", where), dtype(tree, "out_dtype", where), text(tree, "tokenizer_source", where, false), seed);
    }

    /** Parameters given per model must be per-model ones; at the top level any of the method's. */
    private static void checkParameters(JsonNode params, String at, Set<String> known, List<MergeParameter> perModel) {
        if (params == null || params.isNull()) {
            return;
        }
        if (!params.isObject()) {
            throw new MergeException(at + ": expected a mapping of parameter names to values");
        }
        Set<String> allowed = known;
        if (perModel != null) {
            allowed = new LinkedHashSet<>();
            for (MergeParameter p : perModel) {
                allowed.add(p.name());
            }
        }
        for (var it = params.fields(); it.hasNext(); ) {
            var e = it.next();
            if (!allowed.contains(e.getKey()) && known.contains(e.getKey())) {
                throw new MergeException(at + ": '" + e.getKey() + "' is a parameter of the whole merge: put it under the top-level parameters");
            }
            if (!allowed.contains(e.getKey())) {
                throw new MergeException(at + ": unknown parameter '" + e.getKey() + "'" + RecipeLoader.didYouMean(e.getKey(), allowed)
                        + "; this method takes " + allowed);
            }
            ParameterSetting.validate(e.getValue(), at + "." + e.getKey());
        }
    }

    private static String text(ObjectNode tree, String key, String where, boolean required) {
        JsonNode v = tree.get(key);
        if (v == null || v.isNull()) {
            if (required) {
                throw new MergeException(where + ": " + key + " is required");
            }
            return null;
        }
        if (!v.isTextual() || v.textValue().isBlank()) {
            throw new MergeException(where + ": " + key + ": expected a name or path, found " + v);
        }
        return v.textValue();
    }

    /** torch's dtype names, with or without {@code torch.}. */
    private static DType dtype(ObjectNode tree, String key, String where) {
        String name = text(tree, key, where, false);
        if (name == null) {
            return null;
        }
        return switch (name.startsWith("torch.") ? name.substring(6) : name) {
            case "float32", "float" -> DType.F32;
            case "bfloat16" -> DType.BF16;
            case "float16", "half" -> DType.F16;
            default -> throw new MergeException(where + ": " + key + ": '" + name + "' is not one of float32, bfloat16, float16");
        };
    }

    /** The config as mergekit_config.yml holds it. */
    public String toYaml() throws JsonProcessingException {
        return YAML.writeValueAsString(tree);
    }
}
