package ai.attune.api.model;

import ai.attune.api.io.SafetensorsReader;
import ai.attune.api.io.TensorInfo;
import ai.attune.api.nn.LinearLayer;
import ai.attune.api.nn.Module;
import ai.attune.api.nn.Parameter;
import ai.attune.api.spi.QuantizedTensor;
import ai.attune.api.spi.QuantizedWeight;
import ai.attune.api.spi.Quantizer;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.function.UnaryOperator;

/**
 * A checkpoint whose Linear weights load as quantized {@link ai.attune.api.nn.WeightSource}s:
 * either it stores them quantized (a model directory with a {@code quantization_config}), or its
 * dense Linear weights are quantized as they load, one tensor at a time off the mapped file. Model
 * families load it like any checkpoint: {@link Weights#load} gives each {@link LinearLayer} whose
 * weight is quantized here its source, and copies everything else as usual.
 *
 * <p>Quantizing at load follows transformers' default: every Linear except the output head
 * ({@code lm_head}) and weights tied to another module; embeddings and norms are not Linears.
 */
public final class QuantizedCheckpoint implements SafetensorsReader {
    /** Quantizes one dense tensor; binds a quantizer to its config. */
    @FunctionalInterface
    private interface Quantize {
        QuantizedTensor apply(Tensor dense, Scope scope);
    }

    private static final String OUTPUT_HEAD = "lm_head";

    private final SafetensorsReader raw;
    private final Quantizer<?> quantizer;
    private final Quantize quantize; // null: the checkpoint stores the weights quantized
    private final Map<String, QuantizedTensor> loaded = new LinkedHashMap<>();

    private QuantizedCheckpoint(SafetensorsReader raw, Quantizer<?> quantizer, Quantize quantize) {
        this.raw = raw;
        this.quantizer = quantizer;
        this.quantize = quantize;
    }

    /** A checkpoint that stores its Linear weights in {@code quantizer}'s format. Closing it closes {@code raw}. */
    public static QuantizedCheckpoint stored(SafetensorsReader raw, Quantizer<?> quantizer) {
        return new QuantizedCheckpoint(raw, quantizer, null);
    }

    /** A dense checkpoint whose Linear weights {@code quantizer} quantizes as they load. Closing it closes {@code raw}. */
    public static <C> QuantizedCheckpoint quantizing(SafetensorsReader raw, Quantizer<C> quantizer, C config) {
        return new QuantizedCheckpoint(raw, quantizer, (dense, scope) -> quantizer.quantize(dense, config, scope));
    }

    /** The weights loaded quantized so far, by checkpoint name, in load order. */
    public Map<String, QuantizedTensor> loaded() {
        return Collections.unmodifiableMap(loaded);
    }

    /** The underlying checkpoint, as stored. */
    public SafetensorsReader raw() {
        return raw;
    }

    /**
     * Gives every Linear of {@code root} whose weight this checkpoint holds quantized its source,
     * allocated in the weight's scope; {@link Weights#load} calls it before copying the rest.
     */
    void attach(Module root, UnaryOperator<String> checkpointName) throws IOException {
        Map<Parameter, String> paths = new IdentityHashMap<>();
        root.namedParameters().forEach((path, p) -> paths.put(p, path));
        Set<Parameter> shared = tied(root);
        for (Map.Entry<String, Module> e : root.namedModules().entrySet()) {
            if (!(e.getValue() instanceof LinearLayer layer) || shared.contains(layer.weight()) || !paths.containsKey(layer.weight())) {
                continue;
            }
            String name = checkpointName.apply(paths.get(layer.weight()));
            if (!holdsQuantized(e.getKey(), name)) {
                continue;
            }
            Tensor dense = layer.weight().value();
            QuantizedTensor q = load(name, dense.backend(), dense.storage().scope());
            if (!Arrays.equals(q.shape(), dense.shape())) {
                throw new ModelLoadException(raw.path(), "weight '" + name + "' is quantized with shape " + Arrays.toString(q.shape())
                        + ", expected " + Arrays.toString(dense.shape()));
            }
            layer.setWeightSource(new QuantizedWeight(q, quantizer));
            loaded.put(name, q);
            // The dense weight the module was built with was never written, so it holds no memory yet; freed now, before the
            // next weight's staging copy could reuse its block and write it, it never will.
            ai.attune.api.tensor.BlockPool.trim();
        }
    }

    /**
     * The Linear layers of {@code root} that quantizing a dense model turns to 4 bits, by module
     * path: every Linear that owns its weight, except the output head, as transformers does.
     */
    public static Map<String, LinearLayer> quantizable(Module root) {
        Set<Parameter> shared = tied(root);
        Map<String, LinearLayer> out = new LinkedHashMap<>();
        root.namedModules().forEach((path, m) -> {
            boolean head = path.equals(OUTPUT_HEAD) || path.endsWith("." + OUTPUT_HEAD);
            if (m instanceof LinearLayer l && !head && !shared.contains(l.weight()) && l.weightSource() == null) {
                out.put(path, l);
            }
        });
        return out;
    }

    private boolean holdsQuantized(String modulePath, String name) throws IOException {
        if (quantize == null) {
            return quantizer.stores(raw, name);
        }
        boolean head = modulePath.equals(OUTPUT_HEAD) || modulePath.endsWith("." + OUTPUT_HEAD);
        return !head && raw.contains(name) && raw.info(name).dtype().isFloatingPoint();
    }

    private QuantizedTensor load(String name, Backend backend, Scope scope) throws IOException {
        if (quantize == null) {
            return quantizer.read(raw, name, backend, scope);
        }
        TensorInfo info = raw.info(name);
        int[] shape = Arrays.stream(info.shape()).mapToInt(Math::toIntExact).toArray();
        try (Scope staging = Scope.detached("quantize")) { // one dense tensor at a time, gone before the next
            Tensor dense = backend.empty(info.dtype(), shape, staging); // the copy writes every element
            backend.copyFromBytes(raw.data(name), dense);
            return quantize.apply(dense, scope);
        } catch (IllegalArgumentException e) {
            throw new ModelLoadException(raw.path(), "weight '" + name + "': " + e.getMessage());
        }
    }

    /** Parameters that two modules share (a tied output head): left dense. */
    private static Set<Parameter> tied(Module root) {
        Map<Parameter, Integer> owners = new IdentityHashMap<>();
        for (Module m : root.namedModules().values()) {
            for (Parameter p : m.ownParameters().values()) {
                owners.merge(p, 1, Integer::sum);
            }
        }
        Set<Parameter> out = Collections.newSetFromMap(new IdentityHashMap<>());
        owners.forEach((p, n) -> {
            if (n > 1) {
                out.add(p);
            }
        });
        return out;
    }

    // ---- the checkpoint, with quantized weights seen as the dense tensors they stand for ----

    @Override
    public Set<String> names() {
        return raw.names();
    }

    /** For a stored quantized weight, the dense tensor's dtype and shape (as a family's shape checks expect). */
    @Override
    public TensorInfo info(String name) throws IOException {
        if (quantize == null && quantizer.stores(raw, name)) {
            return quantizer.denseInfo(raw, name);
        }
        return raw.info(name);
    }

    @Override
    public MemorySegment data(String name) throws IOException {
        if (quantize == null && quantizer.stores(raw, name)) {
            throw new ModelLoadException(raw.path(), "weight '" + name + "' is stored quantized and can only be the weight of a Linear layer");
        }
        return raw.data(name);
    }

    @Override
    public Map<String, String> metadata() {
        return raw.metadata();
    }

    @Override
    public java.nio.file.Path path() {
        return raw.path();
    }

    @Override
    public void close() {
        raw.close();
    }
}
