package ai.attune.runtime.merge;

import ai.attune.api.io.SafetensorsFile;
import ai.attune.api.io.SafetensorsReader;
import ai.attune.api.io.ShardedSafetensors;
import ai.attune.api.io.TensorInfo;
import ai.attune.api.model.WeightUpdate;
import ai.attune.api.tensor.DType;
import ai.attune.runtime.model.ModelLoader;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One model of a merge, read a chunk at a time: its safetensors headers are read once, then each
 * chunk is a positional read from the file into a small buffer, widened to f32. Nothing is
 * memory-mapped while merging, so the resident size stays a few chunks whatever the model size.
 *
 * <p>{@code BASE+ADAPTER} (mergekit's syntax) is a PEFT LoRA adapter on its base: each adapted
 * weight's chunk gets {@code scaling · B @ A} added as it is read.
 */
public final class MergeInput implements AutoCloseable {
    private record Location(Path file, long start, TensorInfo info) {}

    final String label;
    final Path dir;
    private final Map<String, Location> tensors = new LinkedHashMap<>();
    private final Map<String, WeightUpdate> lora = new HashMap<>();
    private final Map<Path, FileChannel> channels = new HashMap<>();
    private ByteBuffer buffer = ByteBuffer.allocateDirect(0);

    private MergeInput(String label, Path dir) {
        this.label = label;
        this.dir = dir;
    }

    /** Reads a saved adapter as updates of its base's weights, through the method that saved it. */
    @FunctionalInterface
    public interface Adapters {
        List<WeightUpdate> read(Path dir) throws IOException;
    }

    /** Opens a model reference: a directory, a model that ships with Attune, or {@code BASE+ADAPTER}. */
    static MergeInput open(String reference, Adapters adapters) throws IOException {
        String model = reference;
        Path adapter = null;
        int plus = reference.lastIndexOf('+');
        if (plus > 0 && !Files.exists(Path.of(reference))) {
            model = reference.substring(0, plus);
            adapter = Path.of(reference.substring(plus + 1));
        }
        MergeInput in = new MergeInput(reference, ModelLoader.resolve(model));
        try (SafetensorsReader reader = SafetensorsReader.openModelDir(in.dir)) {
            if (reader instanceof SafetensorsFile f) {
                for (String name : f.names()) {
                    in.tensors.put(name, new Location(f.path(), f.dataStart(), f.info(name)));
                }
            } else {
                ShardedSafetensors sharded = (ShardedSafetensors) reader;
                Map<Path, Long> starts = new HashMap<>();
                for (String name : sharded.names()) {
                    Path shard = sharded.shardPath(name);
                    TensorInfo info = sharded.info(name); // opens and validates the shard
                    long start = starts.computeIfAbsent(shard, MergeInput::dataStart);
                    in.tensors.put(name, new Location(shard, start, info));
                }
            }
        }
        if (adapter != null) {
            for (WeightUpdate u : adapters.read(adapter)) {
                Location w = in.tensors.get(u.weight());
                if (w == null) {
                    throw new MergeException(adapter + ": adapts '" + u.weight() + "', which "
                            + in.dir + " does not have");
                }
                if (!Arrays.equals(w.info().shape(), u.storedShape())) {
                    throw new MergeException(adapter + ": the update of '" + u.weight() + "' is "
                            + Arrays.toString(u.storedShape()) + " but the weight is " + Arrays.toString(w.info().shape()));
                }
                in.lora.put(u.weight(), u);
            }
        }
        return in;
    }

    private static long dataStart(Path shard) {
        try (SafetensorsFile f = SafetensorsFile.open(shard)) {
            return f.dataStart();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    Set<String> names() {
        return tensors.keySet();
    }

    TensorInfo info(String name) {
        return tensors.get(name).info();
    }

    /** Elements {@code offset..offset+n} of tensor {@code name} as f32 into {@code dst[0..n)}. */
    void read(String name, long offset, int n, float[] dst) throws IOException {
        Location loc = tensors.get(name);
        DType dtype = loc.info().dtype();
        int size = dtype.byteSize();
        if (buffer.capacity() < n * size) {
            buffer = ByteBuffer.allocateDirect(n * size).order(ByteOrder.LITTLE_ENDIAN);
        }
        buffer.clear().limit(n * size);
        FileChannel ch = channels.get(loc.file());
        if (ch == null) {
            ch = FileChannel.open(loc.file(), StandardOpenOption.READ);
            channels.put(loc.file(), ch);
        }
        long position = loc.start() + loc.info().begin() + offset * size;
        while (buffer.hasRemaining()) {
            if (ch.read(buffer, position + buffer.position()) < 0) {
                throw new MergeException(loc.file() + ": ends inside tensor '" + name + "'");
            }
        }
        buffer.flip();
        for (int e = 0; e < n; e++) {
            dst[e] = switch (dtype) {
                case F32 -> buffer.getFloat(e * 4);
                case BF16 -> DType.bf16ToFloat(buffer.getShort(e * 2));
                case F16 -> Float.float16ToFloat(buffer.getShort(e * 2));
                case F64 -> (float) buffer.getDouble(e * 8);
                default -> throw new MergeException(loc.file() + ": tensor '" + name + "' is " + dtype + ", not a float type");
            };
        }
        WeightUpdate u = lora.get(name);
        if (u != null) {
            u.addTo(offset, dst, n);
        }
    }

    /** The raw bytes of a tensor that is copied, not merged (integer buffers). */
    void copyRaw(String name, FileChannel out) throws IOException {
        Location loc = tensors.get(name);
        try (FileChannel ch = FileChannel.open(loc.file(), StandardOpenOption.READ)) {
            long from = loc.start() + loc.info().begin();
            long size = loc.info().byteSize();
            long done = 0;
            while (done < size) {
                done += ch.transferTo(from + done, size - done, out);
            }
        }
    }

    @Override
    public void close() {
        for (FileChannel ch : channels.values()) {
            try {
                ch.close();
            } catch (IOException ignored) {
                // read-only
            }
        }
    }
}
