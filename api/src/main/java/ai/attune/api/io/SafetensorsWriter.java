package ai.attune.api.io;

import ai.attune.api.tensor.DType;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Collects tensors and metadata, then writes them as one safetensors file or as shards plus an
 * index, atomically.
 *
 * <p>Layout: tensors are stored by descending element size, then by name, as the reference Python
 * library does. Since the data buffer starts 8-aligned (the header is padded with spaces) and every
 * tensor's length is a multiple of its element size, this puts every tensor at an offset aligned to
 * its element size, and makes the output independent of the order of {@link #add} calls. The header
 * lists {@code __metadata__} first, then the tensors in layout order.
 *
 * <p>Tensor bytes are referenced, not copied, until {@link #write}: the segments must stay alive
 * and unchanged until then. Not thread-safe.
 */
public final class SafetensorsWriter {

    /** Copy granularity; bounded so a heap staging buffer stays small whatever the tensor size. */
    private static final int CHUNK = 8 << 20;

    /**
     * Produces one tensor's bytes when its turn to be written comes, so a tensor can be computed
     * while it is written instead of held in memory (a streamed merge).
     */
    @FunctionalInterface
    public interface Producer {
        /** Writes exactly the tensor's byte size to {@code out}, little-endian and row-major. */
        void writeTo(FileChannel out) throws IOException;
    }

    private record Entry(String name, DType dtype, long[] shape, long byteSize, MemorySegment bytes, Producer producer) {
    }

    private final Map<String, Entry> entries = new LinkedHashMap<>();
    private final Map<String, String> metadata = new LinkedHashMap<>();

    /**
     * Adds a tensor.
     *
     * @param bytes its little-endian, row-major bytes: exactly product(shape) * dtype size of them
     * @throws IllegalArgumentException if the name is taken or reserved, a dim is negative, or the
     *                                  byte count does not match the shape
     */
    public SafetensorsWriter add(String name, DType dtype, long[] shape, MemorySegment bytes) {
        Objects.requireNonNull(bytes, "bytes");
        long expected = checkedSize(name, dtype, shape);
        if (bytes.byteSize() != expected) {
            throw new IllegalArgumentException("tensor " + Names.quote(name) + ": " + bytes.byteSize() + " bytes do not match shape "
                    + Arrays.toString(shape) + " of " + dtype + " (" + expected + " bytes)");
        }
        entries.put(name, new Entry(name, dtype, shape.clone(), expected, bytes, null));
        return this;
    }

    /**
     * Adds a tensor whose bytes {@code producer} writes when the file is written, after the header.
     *
     * @throws IllegalArgumentException as {@link #add(String, DType, long[], MemorySegment)}
     */
    public SafetensorsWriter add(String name, DType dtype, long[] shape, Producer producer) {
        Objects.requireNonNull(producer, "producer");
        entries.put(name, new Entry(name, dtype, shape.clone(), checkedSize(name, dtype, shape), null, producer));
        return this;
    }

    /** The byte size of a new tensor, after checking its name and shape. */
    private long checkedSize(String name, DType dtype, long[] shape) {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(dtype, "dtype");
        long[] dims = shape.clone();
        String tensor = "tensor " + Names.quote(name) + ": ";
        if (name.equals(SafetensorsHeader.METADATA_KEY)) {
            throw new IllegalArgumentException(tensor + "the name is reserved for the metadata");
        }
        if (entries.containsKey(name)) {
            throw new IllegalArgumentException(tensor + "added twice");
        }
        requireEncodable(name, tensor + "name");
        long expected = dtype.byteSize();
        for (long d : dims) {
            if (d < 0) {
                throw new IllegalArgumentException(tensor + "negative dimension in shape " + Arrays.toString(dims));
            }
            try {
                expected = Math.multiplyExact(expected, d);
            } catch (ArithmeticException e) {
                throw new IllegalArgumentException(tensor + "shape " + Arrays.toString(dims) + " overflows", e);
            }
        }
        return expected;
    }

    /** Sets a {@code __metadata__} entry (e.g. {@code "format" -> "pt"}), replacing an earlier value. */
    public SafetensorsWriter putMetadata(String key, String value) {
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(value, "value");
        requireEncodable(key, "metadata key");
        requireEncodable(value, "metadata value of " + Names.quote(key));
        metadata.put(key, value);
        return this;
    }

    public SafetensorsWriter putAllMetadata(Map<String, String> values) {
        values.forEach(this::putMetadata);
        return this;
    }

    /**
     * Writes one file atomically: a temporary file in the target's directory, fsynced, then renamed
     * over {@code target}. On failure the temporary file is removed and an existing target is left
     * as it was.
     */
    public void write(Path target) throws IOException {
        write(target, layout());
    }

    /**
     * Writes shards of at most {@code maxShardBytes} tensor bytes each (a larger tensor gets a shard
     * of its own) named {@code <baseName>-00001-of-0000N.safetensors}, then the index
     * {@code <baseName>.safetensors.index.json} with {@code total_size} metadata, each file
     * atomically. The index is written last, so a reader never sees it refer to a missing shard. If
     * everything fits in one shard, writes {@code <baseName>.safetensors} and no index, as Hugging
     * Face does. Either way the entry point of the other layout ({@code <baseName>.safetensors} or
     * the index) is deleted, since {@link SafetensorsReader#openModelDir} would prefer a stale one.
     *
     * @return the files written, the index (or the single file) last
     */
    public List<Path> writeSharded(Path dir, String baseName, long maxShardBytes) throws IOException {
        if (maxShardBytes <= 0) {
            throw new IllegalArgumentException("maxShardBytes must be positive, not " + maxShardBytes);
        }
        List<List<Entry>> shards = new ArrayList<>();
        List<Entry> current = new ArrayList<>();
        long currentBytes = 0;
        for (Entry e : layout()) {
            long size = e.byteSize();
            if (!current.isEmpty() && size > maxShardBytes - currentBytes) {
                shards.add(current);
                current = new ArrayList<>();
                currentBytes = 0;
            }
            current.add(e);
            currentBytes += size;
        }
        shards.add(current);

        Path single = dir.resolve(baseName + ".safetensors");
        Path indexFile = dir.resolve(baseName + ".safetensors.index.json");
        if (shards.size() == 1) {
            write(single, shards.get(0));
            Files.deleteIfExists(indexFile);
            return List.of(single);
        }
        List<Path> written = new ArrayList<>();
        ObjectNode weightMap = JsonNodeFactory.instance.objectNode();
        long totalSize = 0;
        for (int i = 0; i < shards.size(); i++) {
            String shardName = String.format("%s-%05d-of-%05d.safetensors", baseName, i + 1, shards.size());
            Path shardPath = dir.resolve(shardName);
            write(shardPath, shards.get(i));
            written.add(shardPath);
            for (Entry e : shards.get(i)) {
                weightMap.put(e.name(), shardName);
                totalSize += e.byteSize();
            }
        }
        ObjectNode index = JsonNodeFactory.instance.objectNode();
        index.putObject("metadata").put("total_size", totalSize);
        index.set("weight_map", weightMap);
        byte[] json = Json.WRITER.withDefaultPrettyPrinter().writeValueAsBytes(index);
        AtomicFiles.write(indexFile, channel -> writeFully(channel, ByteBuffer.wrap(json)));
        Files.deleteIfExists(single);
        written.add(indexFile);
        return List.copyOf(written);
    }

    private List<Entry> layout() {
        List<Entry> list = new ArrayList<>(entries.values());
        list.sort(Comparator.comparingInt((Entry e) -> -e.dtype().byteSize()).thenComparing(Entry::name));
        return list;
    }

    private void write(Path target, List<Entry> tensors) throws IOException {
        byte[] header = header(target, tensors);
        AtomicFiles.write(target, channel -> {
            ByteBuffer length = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(header.length).flip();
            writeFully(channel, length);
            writeFully(channel, ByteBuffer.wrap(header));
            byte[] staging = null;
            for (Entry e : tensors) {
                if (e.producer() == null) {
                    staging = copy(channel, e.bytes(), staging);
                    continue;
                }
                long start = channel.position();
                e.producer().writeTo(channel);
                if (channel.position() - start != e.byteSize()) {
                    throw new IllegalStateException("tensor " + Names.quote(e.name()) + ": its producer wrote " + (channel.position() - start)
                            + " bytes, not " + e.byteSize());
                }
            }
        });
    }

    /** The header JSON, padded with spaces so the data buffer starts at an 8-aligned offset. */
    private byte[] header(Path target, List<Entry> tensors) throws IOException {
        ObjectNode root = JsonNodeFactory.instance.objectNode();
        if (!metadata.isEmpty()) {
            ObjectNode meta = root.putObject(SafetensorsHeader.METADATA_KEY);
            metadata.forEach(meta::put);
        }
        long offset = 0;
        for (Entry e : tensors) {
            ObjectNode entry = root.putObject(e.name());
            entry.put("dtype", e.dtype().safetensorsName());
            var shape = entry.putArray("shape");
            for (long d : e.shape()) {
                shape.add(d);
            }
            long end = offset + e.byteSize();
            entry.putArray("data_offsets").add(offset).add(end);
            offset = end;
        }
        byte[] json = Json.WRITER.writeValueAsBytes(root);
        int padded = (json.length + 7) & ~7;
        if (padded > SafetensorsHeader.MAX_HEADER_SIZE) {
            throw new SafetensorsException(target, "header would be " + padded + " bytes, more than the limit of "
                    + SafetensorsHeader.MAX_HEADER_SIZE + " readers accept");
        }
        byte[] out = Arrays.copyOf(json, padded);
        Arrays.fill(out, json.length, padded, (byte) ' ');
        return out;
    }

    /**
     * Streams a segment to the channel in chunks. Segments that can be viewed as a ByteBuffer
     * (native, mapped, byte[]-backed) are written without a copy; others, such as a float[]-backed
     * heap segment, go through a reusable staging array, which is returned for the next call.
     */
    private static byte[] copy(FileChannel channel, MemorySegment segment, byte[] staging) throws IOException {
        long size = segment.byteSize();
        for (long pos = 0; pos < size; pos += CHUNK) {
            MemorySegment chunk = segment.asSlice(pos, Math.min(CHUNK, size - pos));
            ByteBuffer buffer;
            try {
                buffer = chunk.asByteBuffer();
            } catch (UnsupportedOperationException notMappable) {
                if (staging == null) {
                    staging = new byte[CHUNK];
                }
                MemorySegment.copy(chunk, ValueLayout.JAVA_BYTE, 0, staging, 0, (int) chunk.byteSize());
                buffer = ByteBuffer.wrap(staging, 0, (int) chunk.byteSize());
            }
            writeFully(channel, buffer);
        }
        return staging;
    }

    private static void writeFully(FileChannel channel, ByteBuffer buffer) throws IOException {
        while (buffer.hasRemaining()) {
            channel.write(buffer);
        }
    }

    /** Refuses strings with unpaired surrogates, which UTF-8 cannot encode and would be mangled. */
    private static void requireEncodable(String s, String what) {
        try {
            StandardCharsets.UTF_8.newEncoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .encode(java.nio.CharBuffer.wrap(s));
        } catch (CharacterCodingException e) {
            throw new IllegalArgumentException(what + " " + Names.quote(s) + " is not valid Unicode", e);
        }
    }
}
