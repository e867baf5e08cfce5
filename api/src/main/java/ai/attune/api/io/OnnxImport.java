package ai.attune.api.io;

import ai.attune.api.tensor.DType;
import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Turns a Hugging Face encoder exported to ONNX by {@code torch.onnx.export} (as Optimum and
 * Xenova's transformers.js exports are) back into a Hugging Face model directory.
 *
 * <p>The exporter keeps most weights under their PyTorch names ({@code embeddings.word_embeddings.weight},
 * {@code encoder.layer.0.attention.output.LayerNorm.bias}), but a {@code Linear} layer's weight is
 * constant-folded into its transpose and renamed {@code onnx::MatMul_N}: stored [in, out] so that the
 * graph computes {@code x @ W}. Its name survives only in the node that consumes it,
 * {@code /encoder/layer.0/attention/self/query/MatMul}, the module path with slashes. So such a
 * weight is named after its consumer ({@code encoder.layer.0.attention.self.query.weight}) and
 * transposed back to HF's [out, in]. A leading {@code bert.} (from {@code BertForMaskedLM} and the
 * like) is dropped so names are those of the bare {@code BertModel}; the {@code position_ids} and
 * {@code token_type_ids} buffers are dropped, since they are not weights. Any initializer that
 * cannot be named this way is an error naming it: a silently missing weight would load as zeros.
 */
public final class OnnxImport {

    /** Dotted PyTorch attribute paths: {@code encoder.layer.0.output.dense.bias}. */
    private static final Pattern HF_NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z0-9_]+)+");
    private static final String PREFIX = "bert.";

    /**
     * One tensor of the output checkpoint.
     *
     * @param bytes  little-endian, row-major data of {@code shape}
     * @param source the ONNX initializer it came from
     */
    public record HfTensor(String name, DType dtype, long[] shape, MemorySegment bytes, String source) {
        public HfTensor {
            shape = shape.clone();
        }

        @Override
        public long[] shape() {
            return shape.clone();
        }
    }

    private OnnxImport() {
    }

    /**
     * The weights of {@code model} under their Hugging Face names, in file order. Transposed
     * weights are allocated in {@code arena}; the others are slices of the model's mapping, valid
     * while it is open.
     *
     * @throws IOException naming the ONNX file and the initializer that has no HF name, has no
     *                     safetensors dtype, or collides with another one
     */
    public static List<HfTensor> huggingFaceTensors(OnnxModel model, Arena arena) throws IOException {
        String file = SafetensorsException.displayName(model.path()) + ": ";
        Map<String, HfTensor> out = new LinkedHashMap<>();
        for (OnnxModel.Initializer init : model.initializers().values()) {
            String source = init.name();
            DType dtype = init.dtype();
            HfTensor tensor;
            if (HF_NAME.matcher(source).matches()) {
                String name = stripPrefix(source);
                if (name.endsWith("position_ids") || name.endsWith("token_type_ids")) {
                    continue; // buffers of BertEmbeddings, not weights
                }
                requireDtype(file, init, dtype);
                tensor = new HfTensor(name, dtype, init.dims(), init.data(), source);
            } else {
                String module = consumingModule(file, model, init);
                requireDtype(file, init, dtype);
                long[] dims = init.dims();
                if (dims.length != 2) {
                    throw new IOException(file + "MatMul weight " + Names.quote(source) + " has shape " + Arrays.toString(dims) + ", expected [in, out]");
                }
                MemorySegment transposed = transpose(init.data(), (int) dims[0], (int) dims[1], dtype.byteSize(), arena);
                tensor = new HfTensor(module + ".weight", dtype, new long[] {dims[1], dims[0]}, transposed, source);
            }
            HfTensor clash = out.putIfAbsent(tensor.name(), tensor);
            if (clash != null) {
                throw new IOException(file + "initializers " + Names.quote(clash.source()) + " and " + Names.quote(source)
                        + " both map to " + Names.quote(tensor.name()));
            }
        }
        return List.copyOf(out.values());
    }

    /**
     * Writes {@code outDir} with {@code model.safetensors} (the HF-named weights of {@code onnxFile}),
     * {@code config.json} and {@code tokenizer.json}. Everything is written into a temporary
     * directory next to {@code outDir} and renamed at the end, so {@code outDir} either does not
     * exist or is complete.
     *
     * @throws FileAlreadyExistsException if {@code outDir} exists
     */
    public static void writeHuggingFaceDir(Path onnxFile, Path tokenizerJson, String configJson, Path outDir) throws IOException {
        writeHuggingFaceDir(onnxFile, tokenizerJson, configJson, Map.of(), outDir);
    }

    /**
     * As {@link #writeHuggingFaceDir(Path, Path, String, Path)}, plus {@code extraFiles}: text files
     * by relative path, e.g. sentence-transformers' {@code modules.json} and
     * {@code 1_Pooling/config.json}. A path that ends in {@code /} is an empty directory, such as
     * sentence-transformers' {@code 2_Normalize/}.
     */
    public static void writeHuggingFaceDir(Path onnxFile, Path tokenizerJson, String configJson, Map<String, String> extraFiles,
                                           Path outDir) throws IOException {
        requireJsonObject(configJson);
        Path target = outDir.toAbsolutePath();
        if (Files.exists(target)) {
            throw new FileAlreadyExistsException(target.toString(), null, "the output directory exists already");
        }
        Files.createDirectories(target.getParent());
        Path tmp = target.resolveSibling("." + target.getFileName() + ".tmp-" + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextLong()));
        Files.createDirectory(tmp);
        try {
            try (OnnxModel model = OnnxModel.open(onnxFile); Arena arena = Arena.ofConfined()) {
                SafetensorsWriter writer = new SafetensorsWriter().putMetadata("format", "pt");
                for (HfTensor t : huggingFaceTensors(model, arena)) {
                    writer.add(t.name(), t.dtype(), t.shape(), t.bytes());
                }
                writer.write(tmp.resolve(SafetensorsReader.SINGLE_FILE));
            }
            Files.writeString(tmp.resolve("config.json"), configJson);
            Files.copy(tokenizerJson, tmp.resolve("tokenizer.json"));
            for (Map.Entry<String, String> e : extraFiles.entrySet()) {
                Path file = tmp.resolve(e.getKey()).normalize();
                if (!file.startsWith(tmp) || file.equals(tmp)) {
                    throw new IllegalArgumentException("extra file " + Names.quote(e.getKey()) + " lies outside the model directory");
                }
                if (e.getKey().endsWith("/")) {
                    Files.createDirectories(file);
                    continue;
                }
                Files.createDirectories(file.getParent());
                Files.writeString(file, e.getValue());
            }
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
        } catch (Throwable t) {
            try {
                deleteTree(tmp);
            } catch (IOException | RuntimeException cleanup) {
                t.addSuppressed(cleanup);
            }
            throw t;
        }
    }

    /** The module path of the MatMul node that reads {@code init} as its weight (input B). */
    private static String consumingModule(String file, OnnxModel model, OnnxModel.Initializer init) throws IOException {
        String source = Names.quote(init.name());
        List<OnnxModel.Node> consumers = model.consumers(init.name());
        if (consumers.size() != 1) {
            throw new IOException(file + "initializer " + source + " has no Hugging Face name and is read by " + consumers.size()
                    + " nodes, not by exactly one MatMul to take its name from");
        }
        OnnxModel.Node node = consumers.get(0);
        if (!node.opType().equals("MatMul") || node.inputs().size() != 2 || !node.inputs().get(1).equals(init.name())) {
            throw new IOException(file + "initializer " + source + " has no Hugging Face name and is not the weight (input B) of a MatMul but read by "
                    + node.opType() + " node " + Names.quote(node.name()));
        }
        // "/encoder/layer.0/attention/self/query/MatMul": the module path, then the op's own name.
        String name = node.name();
        int last = name.lastIndexOf('/');
        String module = last <= 0 ? "" : stripPrefix(name.substring(name.startsWith("/") ? 1 : 0, last).replace('/', '.'));
        if (!HF_NAME.matcher(module + ".weight").matches()) {
            throw new IOException(file + "initializer " + source + " is read by MatMul node " + Names.quote(name)
                    + ", whose name is not a module path like /encoder/layer.0/attention/self/query/MatMul");
        }
        return module;
    }

    private static String stripPrefix(String name) {
        return name.startsWith(PREFIX) ? name.substring(PREFIX.length()) : name;
    }

    private static void requireDtype(String file, OnnxModel.Initializer init, DType dtype) throws IOException {
        if (dtype == null) {
            throw new IOException(file + "initializer " + Names.quote(init.name()) + " has ONNX data_type " + init.dataType()
                    + ", which safetensors has no dtype for");
        }
    }

    /** [rows, cols] to [cols, rows], element by element; one pass over each weight at import time. */
    static MemorySegment transpose(MemorySegment src, int rows, int cols, int size, Arena arena) {
        long bytes = (long) rows * cols * size;
        MemorySegment dst = arena.allocate(Math.max(bytes, 1), 8).asSlice(0, bytes);
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                long from = ((long) r * cols + c) * size;
                long to = ((long) c * rows + r) * size;
                switch (size) {
                    case 4 -> dst.set(ValueLayout.JAVA_INT_UNALIGNED, to, src.get(ValueLayout.JAVA_INT_UNALIGNED, from));
                    case 2 -> dst.set(ValueLayout.JAVA_SHORT_UNALIGNED, to, src.get(ValueLayout.JAVA_SHORT_UNALIGNED, from));
                    case 8 -> dst.set(ValueLayout.JAVA_LONG_UNALIGNED, to, src.get(ValueLayout.JAVA_LONG_UNALIGNED, from));
                    default -> MemorySegment.copy(src, from, dst, to, size);
                }
            }
        }
        return dst;
    }

    private static void requireJsonObject(String json) {
        JsonNode node;
        try {
            node = Json.READER.readTree(json);
        } catch (JacksonException e) {
            throw new IllegalArgumentException("config.json is not valid JSON: " + Json.describe(e), e);
        } catch (IOException e) {
            throw new IllegalArgumentException("config.json cannot be parsed: " + e.getMessage(), e);
        }
        if (node == null || !node.isObject()) {
            throw new IllegalArgumentException("config.json must be a JSON object");
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
