package ai.attune.api.model;

import ai.attune.api.io.AtomicDirectory;
import ai.attune.api.io.SafetensorsWriter;
import ai.attune.api.nn.LinearLayer;
import ai.attune.api.nn.Module;
import ai.attune.api.nn.Parameter;
import ai.attune.api.tensor.Tensor;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Map;

/**
 * Writes a Hugging Face model directory: every parameter under its dotted name in
 * {@code model.safetensors}, plus the base directory's config, tokenizer and generation files.
 * The directory is built under a temporary name beside {@code out} and renamed into place, so a
 * half-written model never exists under its final name.
 */
public final class ModelDirectoryWriter {
    /** Files of a model directory that travel with its weights. */
    public static final List<String> COMPANION_FILES = List.of("config.json", "generation_config.json", "tokenizer.json",
            "tokenizer_config.json", "special_tokens_map.json", "vocab.json", "merges.txt", "tokenizer.model",
            "modules.json", "sentence_bert_config.json", "config_sentence_transformers.json", "1_Pooling/config.json");

    private ModelDirectoryWriter() {}

    /**
     * Writes {@code model}'s parameters and {@code baseDir}'s companion files to {@code out}. A model
     * with quantized Linear weights is refused: they are not among its parameters, and the
     * directory would lack them.
     */
    public static void write(Module model, Path baseDir, Path out) throws IOException {
        for (Map.Entry<String, Module> e : model.namedModules().entrySet()) {
            if (e.getValue() instanceof LinearLayer l && l.weightSource() != null) {
                throw new IllegalArgumentException("'" + e.getKey() + "' has a quantized base weight, which a full model directory cannot "
                        + "hold as it is; make its Linears dense first (attune export writes an adapter merged into its dequantized base)");
            }
        }
        write(model.namedParameters(), baseDir, out);
    }

    public static void write(Map<String, Parameter> params, Path baseDir, Path out) throws IOException {
        AtomicDirectory.create(out, tmp -> writeInto(params, baseDir, tmp));
    }

    /** Writes the weights and companion files into an existing directory, e.g. one being assembled under {@link AtomicDirectory}. */
    public static void writeInto(Map<String, Parameter> params, Path baseDir, Path dir) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            SafetensorsWriter w = new SafetensorsWriter();
            for (Map.Entry<String, Parameter> e : params.entrySet()) {
                w.add(e.getKey(), e.getValue().value().dtype(), longs(e.getValue().value().shape()), bytes(e.getValue().value(), arena));
            }
            w.write(dir.resolve("model.safetensors"));
            copyCompanions(baseDir, dir);
        }
    }

    /**
     * Copies the companion files {@code baseDir} has into {@code dir}, and the empty
     * {@code 2_Normalize} module directory when it has one, so that the copy pools as the base does.
     */
    public static void copyCompanions(Path baseDir, Path dir) throws IOException {
        for (String f : COMPANION_FILES) {
            Path src = baseDir.resolve(f);
            if (Files.isRegularFile(src)) {
                Path target = dir.resolve(f);
                Files.createDirectories(target.getParent());
                Files.copy(src, target, StandardCopyOption.REPLACE_EXISTING);
            }
        }
        if (Files.isDirectory(baseDir.resolve("2_Normalize"))) {
            Files.createDirectories(dir.resolve("2_Normalize"));
        }
    }

    /** A tensor's raw little-endian bytes, contiguous, in an arena the caller owns. */
    public static MemorySegment bytes(Tensor t, Arena arena) {
        Tensor c = t;
        if (!t.isContiguous()) {
            c = t.backend().zeros(t.dtype(), t.shape(), ai.attune.api.tensor.Scope.current());
            t.backend().copy(t, c);
        }
        MemorySegment seg = arena.allocate(Math.max(1, c.numel() * c.dtype().byteSize()), 8).asSlice(0, c.numel() * c.dtype().byteSize());
        c.backend().copyToBytes(c, seg);
        return seg;
    }

    public static long[] longs(int[] shape) {
        long[] out = new long[shape.length];
        for (int i = 0; i < shape.length; i++) {
            out[i] = shape[i];
        }
        return out;
    }

}
