package ai.attune.api.io;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;

/**
 * Named tensors of a checkpoint: one safetensors file ({@link SafetensorsFile}) or the shards of a
 * {@code model.safetensors.index.json} ({@link ShardedSafetensors}).
 *
 * <p>{@link #info} and {@link #data} may open a shard on first use, hence {@code throws
 * IOException}; {@link SafetensorsFile} narrows them to throw nothing checked. A name that is not in
 * {@link #names()} is a caller error and throws {@link java.util.NoSuchElementException} naming the
 * tensor and the file. Slices returned by {@link #data} are valid until {@link #close()}.
 */
public interface SafetensorsReader extends AutoCloseable {

    /** File name of a single-file checkpoint in a model directory, as Hugging Face names it. */
    String SINGLE_FILE = "model.safetensors";

    /** File name of a sharded checkpoint's index in a model directory. */
    String INDEX_FILE = "model.safetensors.index.json";

    /** The tensor names, in the order of the header (or of the index's weight_map). */
    Set<String> names();

    default boolean contains(String name) {
        return names().contains(name);
    }

    /** The header entry of {@code name}. */
    TensorInfo info(String name) throws IOException;

    /** The bytes of {@code name}: a read-only, zero-copy slice of the mapped file. */
    MemorySegment data(String name) throws IOException;

    /** The {@code __metadata__} of a file, or the {@code metadata} of an index. */
    Map<String, String> metadata();

    /** The file that was opened: the safetensors file or the index json. */
    Path path();

    /** Unmaps everything; slices handed out before become inaccessible. */
    @Override
    void close();

    /**
     * Opens the checkpoint of a Hugging Face style model directory: {@value #SINGLE_FILE} if present
     * (as transformers prefers it), else {@value #INDEX_FILE}.
     */
    static SafetensorsReader openModelDir(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            throw new SafetensorsException(dir, "not a directory");
        }
        Path single = dir.resolve(SINGLE_FILE);
        if (Files.isRegularFile(single)) {
            return SafetensorsFile.open(single);
        }
        Path index = dir.resolve(INDEX_FILE);
        if (Files.isRegularFile(index)) {
            return ShardedSafetensors.open(index);
        }
        throw new SafetensorsException(dir, "holds neither " + SINGLE_FILE + " nor " + INDEX_FILE);
    }
}
