package ai.attune.api.io;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Set;

/**
 * A checkpoint split over several safetensors files by a {@code model.safetensors.index.json}.
 *
 * <p>{@link #open} validates the index and checks that every shard exists, so a missing download is
 * reported up front; each shard is mapped and its header validated only when one of its tensors is
 * first asked for, so reading a few tensors of a large checkpoint stays cheap. Thread-safe.
 */
public final class ShardedSafetensors implements SafetensorsReader {

    private final SafetensorsIndex index;
    /** Shard name to its open file; guarded by {@code this}. */
    private final Map<String, SafetensorsFile> opened = new HashMap<>();
    /** Guarded by {@code this}. */
    private boolean closed;

    private ShardedSafetensors(SafetensorsIndex index) {
        this.index = index;
    }

    /**
     * Reads {@code indexFile} and checks its shards exist.
     *
     * @throws SafetensorsException if the index is invalid, names a shard outside its directory, or
     *                              a shard is missing
     */
    public static ShardedSafetensors open(Path indexFile) throws IOException {
        SafetensorsIndex index = SafetensorsIndex.read(indexFile);
        for (String shard : index.shardNames()) {
            if (!Files.isRegularFile(index.shardPath(shard))) {
                throw new SafetensorsException(indexFile, "shard " + Names.quote(shard) + " does not exist");
            }
        }
        return new ShardedSafetensors(index);
    }

    public SafetensorsIndex index() {
        return index;
    }

    @Override
    public Set<String> names() {
        return index.weightMap().keySet();
    }

    @Override
    public boolean contains(String name) {
        return index.weightMap().containsKey(name);
    }

    @Override
    public TensorInfo info(String name) throws IOException {
        return shardOf(name).info(name);
    }

    @Override
    public MemorySegment data(String name) throws IOException {
        return shardOf(name).data(name);
    }

    /** The shard file holding {@code name}, without opening it. */
    public Path shardPath(String name) {
        return index.shardPath(shardName(name));
    }

    @Override
    public Map<String, String> metadata() {
        return index.metadata();
    }

    @Override
    public Path path() {
        return index.indexFile();
    }

    private String shardName(String name) {
        String shard = index.weightMap().get(name);
        if (shard == null) {
            throw new NoSuchElementException(SafetensorsException.displayName(index.indexFile())
                    + ": no tensor " + Names.quote(String.valueOf(name)));
        }
        return shard;
    }

    /** Opens the shard of {@code name} on first use and checks it holds what the index promises. */
    private synchronized SafetensorsFile shardOf(String name) throws IOException {
        String shard = shardName(name);
        if (closed) {
            throw new IllegalStateException(SafetensorsException.displayName(index.indexFile()) + ": closed");
        }
        SafetensorsFile file = opened.get(shard);
        if (file == null) {
            file = SafetensorsFile.open(index.shardPath(shard));
            try {
                for (Map.Entry<String, String> e : index.weightMap().entrySet()) {
                    if (e.getValue().equals(shard) && !file.contains(e.getKey())) {
                        throw new SafetensorsException(index.indexFile(), "tensor " + Names.quote(e.getKey())
                                + " is mapped to shard " + Names.quote(shard) + ", which does not contain it");
                    }
                }
            } catch (SafetensorsException e) {
                file.close();
                throw e;
            }
            opened.put(shard, file);
        }
        return file;
    }

    /** Closes every shard opened so far. Idempotent. */
    @Override
    public synchronized void close() {
        closed = true;
        List<SafetensorsFile> files = new ArrayList<>(opened.values());
        opened.clear();
        files.forEach(SafetensorsFile::close);
    }

    @Override
    public String toString() {
        return "ShardedSafetensors[" + index.indexFile() + ", " + index.shardNames().size() + " shards]";
    }
}
