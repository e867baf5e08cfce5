package ai.attune.runtime.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Keeps submitted recipes and artifact requests inside their allowed roots. Paths are checked
 * after normalizing and after following symlinks, so neither {@code ../} nor a link escapes.
 */
final class PathGuard {
    /** The recipe keys that name files the job reads. */
    static final List<String> RECIPE_PATHS = List.of("model", "data.path", "data.eval_path", "data.general_eval_path");

    private final Path base;
    private final List<Path> roots;

    /** {@code base} resolves relative recipe paths (the server's working directory). */
    PathGuard(Path base, List<Path> roots) {
        this.base = base.toAbsolutePath().normalize();
        List<Path> r = new ArrayList<>();
        for (Path p : roots) {
            r.add(real(p.toAbsolutePath().normalize()));
        }
        this.roots = List.copyOf(r);
    }

    List<Path> roots() {
        return roots;
    }

    /**
     * Rewrites the recipe's file paths to the absolute ones that were checked (so the job reads
     * exactly those) and forces its output to {@code runDir}. Throws 400 naming the offending key.
     */
    void confine(ObjectNode recipe, Path runDir) {
        if (recipe.has("merge_method")) {
            confineMerge(recipe);
            return;
        }
        for (String key : RECIPE_PATHS) {
            String[] parts = key.split("\\.");
            JsonNode parent = parts.length == 1 ? recipe : recipe.path(parts[0]);
            JsonNode value = parent.get(parts[parts.length - 1]);
            if (value == null || value.isNull() || !(parent instanceof ObjectNode holder)) {
                continue;
            }
            if (!value.isTextual()) {
                throw new ApiException(400, "recipe key '" + key + "' must be a path string");
            }
            Path checked = inside(value.asText(), key);
            holder.put(parts[parts.length - 1], checked.toString());
        }
        recipe.put("output", runDir.toString());
    }

    /**
     * A merge config's models ({@code base_model}, {@code models[i].model}, each part of
     * {@code BASE+ADAPTER}) must lie under a root; they are rewritten to the checked paths, and so is a
     * {@code tokenizer_source} that names one of them. Its output is the run's {@code merged/}.
     */
    private void confineMerge(ObjectNode config) {
        java.util.Map<String, String> rewritten = new java.util.HashMap<>();
        JsonNode base = config.get("base_model");
        if (base != null && base.isTextual()) {
            config.put("base_model", model(base.asText(), "base_model", rewritten));
        }
        JsonNode models = config.get("models");
        if (models != null && models.isArray()) {
            for (int i = 0; i < models.size(); i++) {
                JsonNode m = models.get(i);
                String key = "models[" + i + "].model";
                if (m.isTextual()) {
                    ((com.fasterxml.jackson.databind.node.ArrayNode) models).set(i, model(m.asText(), key, rewritten));
                } else if (m instanceof ObjectNode o && o.path("model").isTextual()) {
                    o.put("model", model(o.get("model").asText(), key, rewritten));
                }
            }
        }
        JsonNode tok = config.get("tokenizer_source");
        if (tok != null && tok.isTextual() && rewritten.containsKey(tok.asText())) {
            config.put("tokenizer_source", rewritten.get(tok.asText()));
        }
    }

    private String model(String ref, String key, java.util.Map<String, String> rewritten) {
        int plus = ref.lastIndexOf('+');
        String checked = plus > 0
                ? inside(ref.substring(0, plus), key) + "+" + inside(ref.substring(plus + 1), key)
                : inside(ref, key).toString();
        rewritten.put(ref, checked);
        return checked;
    }

    private Path inside(String text, String key) {
        Path p;
        try {
            p = base.resolve(text).normalize();
        } catch (InvalidPathException e) {
            throw new ApiException(400, "recipe key '" + key + "': '" + text + "' is not a path");
        }
        Path r = real(p);
        for (Path root : roots) {
            if (r.startsWith(root)) {
                return p;
            }
        }
        throw new ApiException(400, "recipe key '" + key + "': '" + text + "' is outside the allowed data roots " + roots);
    }

    /** The file {@code rel} names under {@code dir}, or 400 when it would leave it. */
    static Path under(Path dir, String rel) {
        Path d = real(dir.toAbsolutePath().normalize());
        Path p;
        try {
            p = d.resolve(rel).normalize();
        } catch (InvalidPathException e) {
            throw new ApiException(400, "'" + rel + "' is not a path");
        }
        Path r = real(p);
        if (rel.isEmpty() || Path.of(rel).isAbsolute() || !r.startsWith(d) || r.equals(d)) {
            throw new ApiException(400, "artifact path '" + rel + "' is outside the job's run directory");
        }
        return r; // the checked path itself, so a link swapped in later is not followed out
    }

    /** The path with symlinks followed, for its longest existing prefix. */
    private static Path real(Path p) {
        Path existing = p;
        while (existing != null && !Files.exists(existing)) {
            existing = existing.getParent();
        }
        if (existing == null) {
            return p;
        }
        try {
            return existing.toRealPath().resolve(existing.relativize(p));
        } catch (IOException e) {
            return p;
        }
    }
}
