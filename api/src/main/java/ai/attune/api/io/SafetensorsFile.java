package ai.attune.api.io;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One memory-mapped safetensors file.
 *
 * <p>{@link #open} reads and validates the header eagerly with plain reads, then maps the file
 * without touching tensor data, so opening a multi-gigabyte checkpoint costs one header parse and
 * pages are read when a slice is first used; a file that fails validation is never mapped. Every slice is bounds-checked by {@link MemorySegment}, and validation guarantees
 * slices never reach outside the file. The mapping lives in a shared arena so slices can be used
 * from any thread; {@link #close()} unmaps it.
 *
 * <p>Read slices in little-endian order. {@link SafetensorsWriter} aligns every tensor to its
 * element size, but files from elsewhere need not be aligned, so use the {@code *_UNALIGNED} value
 * layouts unless the slice's address has been checked.
 */
public final class SafetensorsFile implements SafetensorsReader {

    private final Path path;
    private final Arena arena;
    private final MemorySegment mapping;
    private final SafetensorsHeader header;
    private final AtomicBoolean closed = new AtomicBoolean();

    private SafetensorsFile(Path path, Arena arena, MemorySegment mapping, SafetensorsHeader header) {
        this.path = path;
        this.arena = arena;
        this.mapping = mapping;
        this.header = header;
    }

    /**
     * Maps and validates {@code path}.
     *
     * @throws SafetensorsException if the file breaks the format
     * @throws IOException          if it cannot be opened or mapped
     */
    public static SafetensorsFile open(Path path) throws IOException {
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
            SafetensorsHeader header = SafetensorsHeader.read(path, channel);
            Arena arena = Arena.ofShared();
            try {
                MemorySegment mapping = channel.map(FileChannel.MapMode.READ_ONLY, 0, header.fileSize(), arena).asReadOnly();
                return new SafetensorsFile(path, arena, mapping, header);
            } catch (Throwable t) {
                arena.close();
                throw t;
            }
        }
    }

    @Override
    public Set<String> names() {
        return header.tensors().keySet();
    }

    @Override
    public boolean contains(String name) {
        return header.tensors().containsKey(name);
    }

    @Override
    public TensorInfo info(String name) {
        TensorInfo info = header.tensors().get(name);
        if (info == null) {
            throw new NoSuchElementException(SafetensorsException.displayName(path) + ": no tensor "
                    + Names.quote(String.valueOf(name)));
        }
        return info;
    }

    @Override
    public MemorySegment data(String name) {
        TensorInfo info = info(name);
        if (!arena.scope().isAlive()) {
            throw new IllegalStateException(SafetensorsException.displayName(path) + ": closed");
        }
        return mapping.asSlice(header.dataStart() + info.begin(), info.byteSize());
    }

    @Override
    public Map<String, String> metadata() {
        return header.metadata();
    }

    @Override
    public Path path() {
        return path;
    }

    /** File offset of the data buffer, {@code 8 + header length}. */
    public long dataStart() {
        return header.dataStart();
    }

    /** Unmaps the file. Idempotent. */
    @Override
    public void close() {
        // The flag makes a second close, even from another thread, a no-op instead of an error.
        if (closed.compareAndSet(false, true)) {
            arena.close();
        }
    }

    @Override
    public String toString() {
        return "SafetensorsFile[" + path + ", " + header.tensors().size() + " tensors]";
    }
}
