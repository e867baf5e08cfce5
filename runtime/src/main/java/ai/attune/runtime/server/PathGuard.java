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
