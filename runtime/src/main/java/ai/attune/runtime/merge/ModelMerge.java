package ai.attune.runtime.merge;

import ai.attune.api.io.AtomicDirectory;
import ai.attune.api.io.SafetensorsWriter;
import ai.attune.api.io.TensorInfo;
import ai.attune.api.spi.MergeLoop;
import ai.attune.api.spi.MergeParameter;
import ai.attune.api.spi.MergeTensor;
import ai.attune.api.spi.Merger;
import ai.attune.api.tensor.DType;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A merge from config to output directory. {@link #plan} opens every input's headers, checks that
 * the models agree tensor by tensor, resolves every tensor's parameters and lets the method refuse
 * any of them, all before an output exists. {@link #write} then streams: one tensor at a time, a
 * chunk of every input at a time, into safetensors shards under a temporary directory renamed into
 * place at the end. A failure at any point leaves no output.
 */
public final class ModelMerge implements AutoCloseable {
    /** Elements per chunk: 4 MiB of f32 per input, less with many inputs so that all chunks stay within 64 MiB. */
    static final int CHUNK = 1 << 20;
    private static final int CHUNK_BUDGET = 1 << 24;
    /** The files a tokenizer consists of, in Hugging Face directories. */
    static final List<String> TOKENIZER_FILES = List.of("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
            "tokenizer.model", "vocab.json", "merges.txt", "vocab.txt", "added_tokens.json");
    private static final Pattern LAYER = Pattern.compile("(?:^|\\.)(?:layers|h|layer|blocks)\\.(\\d+)\\.");

    private final MergeConfig config;
    private final Merger merger;
    private final List<MergeInput> inputs;
    private final int baseIndex;
    private final List<Planned> tensors = new ArrayList<>();
    private final long seed;
    /** The output chunk's bytes, one buffer for the whole merge (direct buffers are freed only by the GC). */
    private ByteBuffer bytes = ByteBuffer.allocateDirect(0);

    /** A tensor with everything its merge needs, decided before writing. */
    private record Planned(String name, TensorInfo info, DType out, MergeTensor tensor) {}

    private ModelMerge(MergeConfig config, Merger merger, List<MergeInput> inputs, int baseIndex, long seed) {
        this.config = config;
        this.merger = merger;
        this.inputs = inputs;
        this.baseIndex = baseIndex;
        this.seed = seed;
    }

    /** Opens and checks everything the merge will read; nothing is written. */
    public static ModelMerge plan(MergeConfig config, Merger merger, Long seedFlag, MergeInput.Adapters adapters) throws IOException {
        List<String> refs = new ArrayList<>(config.models().stream().map(MergeConfig.Model::model).toList());
        int baseIndex = config.baseModel() == null ? -1 : refs.indexOf(config.baseModel());
        if (baseIndex < 0 && config.baseModel() != null && merger.requiresBaseModel()) {
            refs.add(config.baseModel()); // mergekit adds the base as one more input
            baseIndex = refs.size() - 1;
        }
        List<MergeInput> inputs = new ArrayList<>();
        long seed = seedFlag != null ? seedFlag : config.seed() != null ? config.seed() : 0L;
        ModelMerge m = new ModelMerge(config, merger, inputs, baseIndex, seed);
        try {
            for (String ref : refs) {
                try {
                    inputs.add(MergeInput.open(ref, adapters));
                } catch (ai.attune.api.model.ModelLoadException | ai.attune.api.io.SafetensorsException | java.nio.file.InvalidPathException e) {
                    // the config named this model: say so, with what is wrong with it
                    throw new MergeException(config.source().getFileName() + ": model '" + ref + "': " + e.getMessage());
                }
            }
            m.planTensors();
        } catch (IOException | RuntimeException e) {
            m.close();
            throw e;
        }
        return m;
    }

    private MergeInput reference() {
        return inputs.get(Math.max(baseIndex, 0));
    }

    private void planTensors() throws IOException {
        MergeInput ref = reference();
        for (MergeInput in : inputs) {
            for (String name : in.names()) {
                if (!ref.names().contains(name)) {
                    throw new MergeException("tensor '" + name + "' is in " + in.label + " but not in " + ref.label);
                }
            }
            for (String name : ref.names()) {
                if (!in.names().contains(name)) {
                    throw new MergeException("tensor '" + name + "' is in " + ref.label + " but not in " + in.label);
                }
            }
        }
        int layers = layerCount(ref.dir);
        for (String name : ref.names()) {
            TensorInfo info = ref.info(name);
            for (MergeInput in : inputs) {
                long[] shape = in.info(name).shape();
                if (!Arrays.equals(shape, info.shape())) {
                    String vocab = name.contains("embed") || name.contains("lm_head") || name.contains("wte")
                            ? " (different vocabularies: Attune merges models that share one tokenizer)" : "";
                    throw new MergeException("tensor '" + name + "' is " + Arrays.toString(shape) + " in " + in.label + " but "
                            + Arrays.toString(info.shape()) + " in " + ref.label + vocab);
                }
            }
            if (!info.dtype().isFloatingPoint()) {
                tensors.add(new Planned(name, info, info.dtype(), null)); // integer buffers are copied from the base
                continue;
            }
            DType out = config.outDtype() != null ? config.outDtype() : config.dtype() != null ? config.dtype() : info.dtype();
            MergeTensor t = resolve(name, info.shape(), depth(name, layers));
            try {
                merger.check(t);
            } catch (IllegalArgumentException e) {
                throw new MergeException("tensor '" + name + "': " + e.getMessage());
            }
            tensors.add(new Planned(name, info, out, t));
        }
    }

    /** mergekit's t: a layer's index over the layer count minus one, 1 for a single layer, 0 outside the layers. */
    private static double depth(String name, int layers) {
        Matcher m = LAYER.matcher(name);
        if (!m.find() || layers <= 0) {
            return 0;
        }
        return layers > 1 ? Integer.parseInt(m.group(1)) / (double) (layers - 1) : 1;
    }

    private static int layerCount(Path dir) throws IOException {
        Path cfg = dir.resolve("config.json");
        if (!Files.isRegularFile(cfg)) {
            return 0;
        }
        JsonNode c = new ObjectMapper().readTree(cfg.toFile());
        for (String key : List.of("num_hidden_layers", "n_layer", "num_layers")) {
            if (c.path(key).canConvertToInt()) {
                return c.path(key).intValue();
            }
        }
        return 0;
    }

    private MergeTensor resolve(String name, long[] shape, double t) {
        List<Map<String, Object>> perModel = new ArrayList<>();
        for (int i = 0; i < inputs.size(); i++) {
            JsonNode own = i < config.models().size() ? config.models().get(i).parameters() : null;
            Map<String, Object> values = new HashMap<>();
            for (MergeParameter p : merger.tensorParameters()) {
                Object v = lookup(p.name(), own, name, t);
                if (v == null && p.required() && i != baseIndex) {
                    throw new MergeException("models[" + i + "] (" + inputs.get(i).label + "): parameter '" + p.name()
                            + "' is required for tensor '" + name + "'");
                }
                put(values, p, typed(p, v, "models[" + i + "] (" + inputs.get(i).label + ")", name));
            }
            perModel.add(values);
        }
        Map<String, Object> global = new HashMap<>();
        for (MergeParameter p : merger.parameters()) {
            Object v = lookup(p.name(), null, name, t);
            if (v == null && p.required()) {
                throw new MergeException(config.source().getFileName() + ": parameters." + p.name() + " is required (tensor '" + name + "')");
            }
            put(global, p, typed(p, v, config.source().getFileName() + ": parameters", name));
        }
        return new MergeTensor(name, shape, baseIndex, perModel, global, seed);
    }

    /**
     * A parameter's value checked against the type of its schema: text where the default is text,
     * true/false (or a number, 0 being false) where it is a flag, a finite number otherwise.
     */
    private static Object typed(MergeParameter p, Object v, String where, String tensor) {
        if (v == null) {
            return null;
        }
        Object d = p.defaultValue();
        boolean ok = d instanceof String ? v instanceof String
                : d instanceof Boolean ? v instanceof Boolean || v instanceof Double
                : v instanceof Double x && Double.isFinite(x);
        if (!ok) {
            String kind = d instanceof String ? "text" : d instanceof Boolean ? "true or false" : "a finite number";
            throw new MergeException(where + ": parameter '" + p.name() + "' must be " + kind + ", found '" + v + "' (tensor '" + tensor + "')");
        }
        return v;
    }

    private static void put(Map<String, Object> values, MergeParameter p, Object v) {
        Object value = v != null ? v : p.defaultValue();
        if (value != null) {
            values.put(p.name(), value);
        }
    }

    private Object lookup(String key, JsonNode own, String tensor, double t) {
        for (JsonNode level : new JsonNode[] {own, config.parameters()}) {
            if (level != null && level.has(key)) {
                Object v = ParameterSetting.evaluate(level.get(key), tensor, t);
                if (v != null) {
                    return v;
                }
            }
        }
        return null;
    }

    /** Tensors to write and the largest element count among them. */
    public int tensorCount() {
        return tensors.size();
    }

    /**
     * Writes the merged model to {@code out}, which must not exist: the tensors, config.json with the
     * output dtype, the tokenizer (per {@code tokenizer_source}) and mergekit_config.yml.
     */
    /** Told after each tensor is written: how many are done, of how many. */
    @FunctionalInterface
    public interface Progress {
        void written(int done, int total) throws IOException;
    }

    public void write(Path out, boolean copyTokenizer, long maxShardBytes, Progress progress) throws IOException {
        Path tokenizerDir = tokenizerSource();
        AtomicDirectory.create(out, tmp -> {
            SafetensorsWriter writer = new SafetensorsWriter();
            writer.putMetadata("format", "pt");
            int[] done = {0};
            for (Planned p : tensors) {
                writer.add(p.name(), p.out(), p.info().shape(), channel -> {
                    writeTensor(p, channel);
                    progress.written(++done[0], tensors.size());
                });
            }
            writer.writeSharded(tmp, "model", maxShardBytes);
            writeConfig(tmp);
            if (copyTokenizer && tokenizerDir != null) {
                for (String f : TOKENIZER_FILES) {
                    Path src = tokenizerDir.resolve(f);
                    if (Files.isRegularFile(src)) {
                        Files.copy(src, tmp.resolve(f));
                    }
                }
            }
            Path generation = reference().dir.resolve("generation_config.json");
            if (Files.isRegularFile(generation)) {
                Files.copy(generation, tmp.resolve("generation_config.json"));
            }
            Files.writeString(tmp.resolve("mergekit_config.yml"), config.toYaml());
        });
    }

    private void writeTensor(Planned p, FileChannel channel) throws IOException {
        if (p.tensor() == null) {
            reference().copyRaw(p.name(), channel);
            return;
        }
        DType dtype = p.out();
        long need = Math.min(chunk(), p.tensor().numel()) * dtype.byteSize();
        if (bytes.capacity() < need) {
            bytes = ByteBuffer.allocateDirect((int) need).order(ByteOrder.LITTLE_ENDIAN);
        }
        ByteBuffer bytes = this.bytes;
        MergeLoop.run(merger.begin(p.tensor()), p.tensor().numel(), inputs.size(), chunk(),
                (offset, n, dst) -> {
                    for (int i = 0; i < inputs.size(); i++) {
                        inputs.get(i).read(p.name(), offset, n, dst[i]);
                    }
                },
                (merged, n) -> {
                    bytes.clear();
                    for (int e = 0; e < n; e++) {
                        switch (dtype) {
                            case F32 -> bytes.putFloat(merged[e]);
                            case BF16 -> bytes.putShort(DType.floatToBf16(merged[e]));
                            case F16 -> bytes.putShort(Float.floatToFloat16(merged[e]));
                            case F64 -> bytes.putDouble(merged[e]);
                            default -> throw new IllegalStateException(dtype + " is not a float type");
                        }
                    }
                    bytes.flip();
                    while (bytes.hasRemaining()) {
                        channel.write(bytes);
                    }
                });
    }

    private int chunk() {
        return Math.min(CHUNK, Math.max(1 << 12, CHUNK_BUDGET / (inputs.size() + 1)));
    }

    /** mergekit's tokenizer_source: the base's (the default), one model's, or the union when all are the same. */
    private Path tokenizerSource() throws IOException {
        String source = config.tokenizerSource();
        if (source == null || source.equals("base")) {
            return reference().dir;
        }
        if (source.equals("union")) {
            Path first = reference().dir.resolve("tokenizer.json");
            for (MergeInput in : inputs) {
                Path other = in.dir.resolve("tokenizer.json");
                if (Files.isRegularFile(first) != Files.isRegularFile(other)
                        || Files.isRegularFile(first) && Files.mismatch(first, other) != -1) {
                    throw new MergeException(config.source().getFileName() + ": tokenizer_source union: " + in.label + " has another tokenizer than "
                            + reference().label + "; Attune merges models that share one tokenizer");
                }
            }
            return reference().dir;
        }
        for (MergeInput in : inputs) {
            if (in.label.equals(source)) {
                return in.dir;
            }
        }
        throw new MergeException(config.source().getFileName() + ": tokenizer_source '" + source + "' is none of base, union or a model of this merge");
    }

    private void writeConfig(Path tmp) throws IOException {
        Path src = reference().dir.resolve("config.json");
        if (!Files.isRegularFile(src)) {
            return;
        }
        ObjectMapper json = new ObjectMapper();
        ObjectNode cfg = (ObjectNode) json.readTree(src.toFile());
        var dtypes = new LinkedHashSet<DType>();
        tensors.stream().filter(p -> p.tensor() != null).forEach(p -> dtypes.add(p.out()));
        if (dtypes.size() == 1) {
            cfg.put("torch_dtype", switch (dtypes.iterator().next()) {
                case BF16 -> "bfloat16";
                case F16 -> "float16";
                case F64 -> "float64";
                default -> "float32";
            });
        }
        Files.writeString(tmp.resolve("config.json"), json.writerWithDefaultPrettyPrinter().writeValueAsString(cfg));
    }

    @Override
    public void close() {
        for (MergeInput in : inputs) {
            in.close();
        }
    }
}
