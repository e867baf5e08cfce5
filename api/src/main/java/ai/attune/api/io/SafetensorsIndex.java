package ai.attune.api.io;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Set;

/**
 * A parsed {@code model.safetensors.index.json}: {@code {"metadata": {...}, "weight_map": {tensor ->
 * shard file}}}. Shard names are checked to stay inside the index's directory, since an index
 * downloaded with a model is untrusted input.
 */
public final class SafetensorsIndex {

    private final Path indexFile;
    private final Path directory;
    private final Map<String, String> metadata;
    private final Map<String, String> weightMap;
    private final Map<String, Path> shardPaths;

    private SafetensorsIndex(Path indexFile, Path directory, Map<String, String> metadata,
                             Map<String, String> weightMap, Map<String, Path> shardPaths) {
        this.indexFile = indexFile;
        this.directory = directory;
        this.metadata = metadata;
        this.weightMap = weightMap;
        this.shardPaths = shardPaths;
    }

    /**
     * Reads and validates an index file. Does not check that the shards exist.
     *
     * @throws SafetensorsException if it is not a valid index or a shard name leaves the directory
     */
    public static SafetensorsIndex read(Path indexFile) throws IOException {
        JsonNode root = parse(indexFile);
        Path directory = indexFile.toAbsolutePath().normalize().getParent();

        JsonNode weights = root.get("weight_map");
        if (weights == null || !weights.isObject()) {
            throw new SafetensorsException(indexFile, "\"weight_map\" is missing or not a JSON object");
        }
        Map<String, String> weightMap = new LinkedHashMap<>();
        Map<String, Path> shardPaths = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : weights.properties()) {
            String tensor = "tensor " + Names.quote(e.getKey()) + ": ";
            if (!e.getValue().isTextual()) {
                throw new SafetensorsException(indexFile, tensor + "shard is not a file name but "
                        + Names.snippet(e.getValue()));
            }
            String shard = e.getValue().textValue();
            if (!shardPaths.containsKey(shard)) {
                shardPaths.put(shard, resolveShard(indexFile, directory, shard, tensor));
            }
            weightMap.put(e.getKey(), shard);
        }

        Map<String, String> metadata = new LinkedHashMap<>();
        JsonNode meta = root.get("metadata");
        if (meta != null && !meta.isNull()) {
            if (!meta.isObject()) {
                throw new SafetensorsException(indexFile, "\"metadata\" is not a JSON object");
            }
            // Hugging Face writes numbers here ("total_size": 123); keep them as their JSON text.
            meta.properties().forEach(e -> metadata.put(e.getKey(),
                    e.getValue().isTextual() ? e.getValue().textValue() : e.getValue().toString()));
        }
        return new SafetensorsIndex(indexFile, directory, Collections.unmodifiableMap(metadata),
                Collections.unmodifiableMap(weightMap), Collections.unmodifiableMap(shardPaths));
    }

    private static JsonNode parse(Path indexFile) throws IOException {
        // The same bound as a safetensors header: an index is a header spread over files.
        long size = Files.size(indexFile);
        if (size > SafetensorsHeader.MAX_HEADER_SIZE) {
            throw new SafetensorsException(indexFile, "index is " + size
                    + " bytes, more than the limit of " + SafetensorsHeader.MAX_HEADER_SIZE);
        }
        JsonNode root;
        try {
            root = Json.READER.readTree(Json.decodeUtf8(Files.readAllBytes(indexFile)));
        } catch (CharacterCodingException e) {
            throw new SafetensorsException(indexFile, "index is not valid UTF-8", e);
        } catch (JacksonException e) {
            throw new SafetensorsException(indexFile, "index is not valid JSON: " + Json.describe(e), e);
        }
        if (root == null || !root.isObject()) {
            throw new SafetensorsException(indexFile, "index is not a JSON object");
        }
        return root;
    }

    /**
     * Refuses names that could read files outside the model directory. The check is lexical, on the
     * normalized path, and deliberately does not resolve symlinks: the Hugging Face hub cache stores
     * every shard as a symlink into a sibling blobs directory.
     */
    private static Path resolveShard(Path indexFile, Path directory, String shard, String tensor)
            throws SafetensorsException {
        String problem = null;
        Path resolved = null;
        if (shard.isEmpty()) {
            problem = "empty shard file name";
        } else {
            try {
                Path relative = directory.getFileSystem().getPath(shard);
                boolean dotDot = false;
                for (Path part : relative) {
                    dotDot |= part.toString().equals("..");
                }
                if (relative.isAbsolute() || relative.getRoot() != null) {
                    problem = "shard file " + Names.quote(shard) + " is an absolute path";
                } else if (dotDot) {
                    problem = "shard file " + Names.quote(shard) + " contains '..'";
                } else {
                    resolved = directory.resolve(relative).normalize();
                    if (!resolved.startsWith(directory) || resolved.equals(directory)) {
                        problem = "shard file " + Names.quote(shard) + " does not name a file inside the index's directory";
                    }
                }
            } catch (InvalidPathException e) {
                problem = "shard file " + Names.quote(shard) + " is not a valid path";
            }
        }
        if (problem != null) {
            throw new SafetensorsException(indexFile, tensor + problem);
        }
        return resolved;
    }

    /** The index file itself. */
    public Path indexFile() {
        return indexFile;
    }

    /** The absolute directory shard names are resolved against. */
    public Path directory() {
        return directory;
    }

    /** The index's {@code metadata}; non-string values as their JSON text. */
    public Map<String, String> metadata() {
        return metadata;
    }

    /** Tensor name to shard file name, in file order. */
    public Map<String, String> weightMap() {
        return weightMap;
    }

    /** Shard file names in order of first mention. */
    public Set<String> shardNames() {
        return Collections.unmodifiableSet(new LinkedHashSet<>(shardPaths.keySet()));
    }

    /** The validated absolute path of a shard named in the weight map. */
    public Path shardPath(String shardName) {
        Path p = shardPaths.get(shardName);
        if (p == null) {
            throw new NoSuchElementException(SafetensorsException.displayName(indexFile)
                    + ": no shard " + Names.quote(String.valueOf(shardName)));
        }
        return p;
    }
}
