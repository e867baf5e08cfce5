package ai.attune.plugins.quant.bnb4;

import ai.attune.api.io.SafetensorsReader;
import ai.attune.api.io.TensorInfo;
import ai.attune.api.model.ModelLoadException;
import ai.attune.api.quant.DynamicMap;
import ai.attune.api.spi.QuantizedTensor;
import ai.attune.api.spi.Quantizer;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.Blockwise4Bit;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Shape;
import ai.attune.api.tensor.Tensor;

import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * bitsandbytes' blockwise 4-bit quantization ({@code quantize_4bit} / {@code dequantize_4bit}),
 * with the parts named as transformers saves a 4-bit model: for a weight {@code W}, the packed
 * codes {@code W} (uint8 [n/2, 1]), {@code W.absmax}, {@code W.quant_map}, under double
 * quantization {@code W.nested_absmax} and {@code W.nested_quant_map}, and the JSON state
 * {@code W.quant_state.bitsandbytes__<type>}.
 */
abstract class Bnb4Quantizer implements Quantizer<Bnb4Config> {
    private final QuantType type;
    private final Map<Tensor, QuantState> parsed = new java.util.WeakHashMap<>(); // Tensor keeps Object's identity equality

    Bnb4Quantizer(QuantType type) {
        this.type = type;
    }

    @Override
    public Class<Bnb4Config> configType() {
        return Bnb4Config.class;
    }

    @Override
    public Bnb4Config defaultConfig() {
        return Bnb4Config.DEFAULTS;
    }

    @Override
    public QuantizedTensor quantize(Tensor weight, Bnb4Config config, Scope scope) {
        QuantState.torchName(weight.dtype()); // refuses integer weights before any work
        float[] x = TensorBytes.floats(weight);
        for (int i = 0; i < x.length; i++) {
            if (!Float.isFinite(x[i])) { // its block's absmax would be inf or NaN, and double quantization's mean with it
                throw new IllegalArgumentException("element " + i + " is " + x[i] + "; only finite weights quantize");
            }
        }
        Blockwise.FourBit q = Blockwise.quantize4(x, config.blocksize(), type);
        Backend be = weight.backend();
        Map<String, Tensor> state = new LinkedHashMap<>();
        Float offset = null;
        if (config.doubleQuant()) {
            DoubleQuant d = DoubleQuant.of(q.absmax());
            state.put("absmax", TensorBytes.u8(be, d.codes(), new int[] {d.codes().length}, scope));
            state.put("quant_map", TensorBytes.f32(be, type.quantMap(), new int[] {16}, scope));
            state.put("nested_absmax", TensorBytes.f32(be, d.nestedAbsmax(), new int[] {d.nestedAbsmax().length}, scope));
            state.put("nested_quant_map", TensorBytes.f32(be, d.code(), new int[] {DynamicMap.SIZE}, scope));
            offset = d.offset();
        } else {
            state.put("absmax", TensorBytes.f32(be, q.absmax(), new int[] {q.absmax().length}, scope));
            state.put("quant_map", TensorBytes.f32(be, type.quantMap(), new int[] {16}, scope));
        }
        byte[] json = new QuantState(type.id(), config.blocksize(), weight.dtype(), weight.shape(), offset).toJson();
        state.put(QuantState.key(type.id()), TensorBytes.u8(be, json, new int[] {json.length}, scope));
        Tensor data = TensorBytes.u8(be, q.packed(), new int[] {q.packed().length, 1}, scope);
        return new QuantizedTensor(type.id(), weight.shape(), weight.dtype(), data, state);
    }

    @Override
    public Bnb4Config configOf(QuantizedTensor q) {
        QuantState s = state(q);
        return new Bnb4Config(s.blocksize(), s.nested());
    }

    /** Decodes the codes straight from their tensor into the new one, a chunk at a time; only a nested absmax is restored on the side. */
    @Override
    public Tensor dequantize(QuantizedTensor q, Scope scope) {
        int[] shape = q.shape();
        try (Scope side = Scope.detached("bnb4-absmax")) {
            Tensor flat = blockwise(q, side).dequantize(scope); // [rows, cols]
            return flat.asStrided(shape, Shape.contiguousStrides(shape), flat.offset());
        }
    }

    /**
     * The product on the backend's 4-bit kernel, which decodes the codes inside its GEMM where it
     * can: the weight is never dense, and under double quantization only its absmax (one float
     * per block) is restored for the call.
     */
    @Override
    public Tensor matmul(QuantizedTensor q, Tensor left, boolean transposeW) {
        if (q.shape().length != 2) {
            throw new IllegalArgumentException("a product needs a 2-D weight, not " + Arrays.toString(q.shape()));
        }
        try (Scope side = Scope.detached("bnb4-absmax")) {
            Blockwise4Bit w = blockwise(q, side);
            Tensor out = left.backend().empty(DType.F32, new int[] {left.size(0), transposeW ? w.rows() : w.cols()}, Scope.current()); // [rows, n]
            left.backend().matmul(left, false, w, transposeW, out);
            return out;
        }
    }

    /**
     * The JSON quant state of {@code q}, parsed once per weight: a product reads it every forward
     * and backward, and the state tensor never changes (it is keyed by identity, and dropped with
     * the weight).
     */
    private QuantState state(QuantizedTensor q) {
        Tensor json = q.state().get(QuantState.key(type.id()));
        synchronized (parsed) {
            return parsed.computeIfAbsent(json, t -> QuantState.parse(TensorBytes.bytes(t)));
        }
    }

    /** The codes as the backend's 4-bit operand, [shape[0], the rest], with the f32 absmax (restored into {@code side} if nested). */
    private Blockwise4Bit blockwise(QuantizedTensor q, Scope side) {
        QuantState s = state(q);
        int[] shape = q.shape();
        int rows = shape.length == 1 ? 1 : shape[0];
        int cols = Math.toIntExact(q.numel() / rows);
        return new Blockwise4Bit(q.data(), type.codeValues(), absmax(q, s, side), s.blocksize(), rows, cols);
    }

    /** The float32 absmax per block: stored as is, or restored from its 8-bit codes into {@code side}. */
    private static Tensor absmax(QuantizedTensor q, QuantState s, Scope side) {
        Tensor stored = q.state().get("absmax");
        if (!s.nested()) {
            return stored;
        }
        float[] restored = new DoubleQuant(TensorBytes.bytes(stored), TensorBytes.floats(q.state().get("nested_absmax")),
                TensorBytes.floats(q.state().get("nested_quant_map")), s.nestedOffset()).absmax();
        return TensorBytes.f32(stored.backend(), restored, new int[] {restored.length}, side);
    }

    @Override
    public boolean stores(SafetensorsReader checkpoint, String name) {
        return checkpoint.contains(name + "." + QuantState.key(type.id()));
    }

    @Override
    public TensorInfo denseInfo(SafetensorsReader checkpoint, String name) throws IOException {
        QuantState s = state(checkpoint, name);
        TensorInfo packed = checkpoint.info(name);
        return new TensorInfo(name, s.dtype(), Arrays.stream(s.shape()).asLongStream().toArray(), packed.begin(), packed.end());
    }

    /** The JSON state beside {@code name}, checked against this quantizer. */
    private QuantState state(SafetensorsReader checkpoint, String name) throws IOException {
        String stateName = name + "." + QuantState.key(type.id());
        if (checkpoint.info(stateName).dtype() != DType.U8) {
            throw new ModelLoadException(checkpoint.path(), "tensor '" + stateName + "' must be uint8 bytes of JSON, not "
                    + checkpoint.info(stateName).dtype());
        }
        QuantState s;
        try {
            s = QuantState.parse(checkpoint.data(stateName).toArray(ValueLayout.JAVA_BYTE));
        } catch (IllegalArgumentException e) {
            throw new ModelLoadException(checkpoint.path(), "tensor '" + stateName + "': " + e.getMessage());
        }
        if (!s.quantType().equals(type.id())) {
            throw new ModelLoadException(checkpoint.path(), "tensor '" + stateName + "' says quant_type \"" + s.quantType() + "\", not \"" + type.id() + "\"");
        }
        if (Arrays.stream(Blockwise.BLOCKSIZES_4BIT).noneMatch(b -> b == s.blocksize())) {
            throw new ModelLoadException(checkpoint.path(), "tensor '" + stateName + "': blocksize " + s.blocksize() + " is not one of "
                    + Arrays.toString(Blockwise.BLOCKSIZES_4BIT));
        }
        return s;
    }

    @Override
    public QuantizedTensor read(SafetensorsReader checkpoint, String name, Backend backend, Scope scope) throws IOException {
        QuantState s = state(checkpoint, name);
        byte[] json = checkpoint.data(name + "." + QuantState.key(type.id())).toArray(ValueLayout.JAVA_BYTE); // kept as written
        long n = s.numel();
        int blocks = Blockwise.blocks(n, s.blocksize());
        Map<String, Tensor> state = new LinkedHashMap<>();
        Tensor data = part(checkpoint, name, DType.U8, (n + 1) / 2, backend, scope);
        state.put("absmax", part(checkpoint, name + ".absmax", s.nested() ? DType.U8 : DType.F32, blocks, backend, scope));
        Tensor quantMap = part(checkpoint, name + ".quant_map", DType.F32, 16, backend, scope);
        if (!sameValues(TensorBytes.floats(quantMap), type.quantMap())) {
            throw new ModelLoadException(checkpoint.path(), "tensor '" + name + ".quant_map' is not bitsandbytes' " + type.id() + " code");
        }
        state.put("quant_map", quantMap);
        if (s.nested()) {
            state.put("nested_absmax", part(checkpoint, name + ".nested_absmax", DType.F32,
                    Blockwise.blocks(blocks, DoubleQuant.BLOCKSIZE), backend, scope));
            state.put("nested_quant_map", part(checkpoint, name + ".nested_quant_map", DType.F32, DynamicMap.SIZE, backend, scope));
        }
        state.put(QuantState.key(type.id()), TensorBytes.u8(backend, json, new int[] {json.length}, scope));
        return new QuantizedTensor(type.id(), s.shape(), s.dtype(), data, state);
    }

    /** Equal as numbers (+0 and -0 alike), as the map's readers compare them. */
    private static boolean sameValues(float[] a, float[] b) {
        for (int i = 0; i < a.length; i++) {
            if (a[i] != b[i]) {
                return false;
            }
        }
        return a.length == b.length;
    }

    /** One part, checked for its dtype and element count, copied off the mapped file. */
    private static Tensor part(SafetensorsReader checkpoint, String name, DType dtype, long count, Backend backend, Scope scope)
            throws IOException {
        if (!checkpoint.contains(name)) {
            throw new ModelLoadException(checkpoint.path(), "missing tensor '" + name + "' of the 4-bit weight");
        }
        TensorInfo info = checkpoint.info(name);
        if (info.dtype() != dtype || info.elementCount() != count) {
            throw new ModelLoadException(checkpoint.path(), "tensor '" + name + "' is " + info.dtype() + " " + Arrays.toString(info.shape())
                    + ", expected " + count + " elements of " + dtype + " from its quant_state");
        }
        int[] shape = Arrays.stream(info.shape()).mapToInt(Math::toIntExact).toArray();
        Tensor t = backend.empty(dtype, shape, scope);
        backend.copyFromBytes(checkpoint.data(name), t);
        return t;
    }
}
