package ai.attune.runtime.cli;

import ai.attune.api.model.QuantizedCheckpoint;
import ai.attune.api.nn.LayerNorm;
import ai.attune.api.nn.LinearLayer;
import ai.attune.api.nn.Module;
import ai.attune.api.nn.Parameter;
import ai.attune.api.nn.RMSNorm;
import ai.attune.api.spi.QuantizedWeight;
import ai.attune.api.tensor.BlockPool;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.runtime.model.ModelLoader;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * Weights for a benchmark preset, as transformers initialises a new model ({@code _init_weights}
 * with {@code initializer_range} 0.02): Linear and embedding weights from N(0, 0.02²), norm
 * weights one, biases zero. A preset's memory is then what a loaded checkpoint's is (every page
 * written), and its arithmetic runs on ordinary values. With a quantization, the Linears that a
 * quantized load would turn to 4 bits are drawn one at a time and quantized, as loading
 * quantizes a checkpoint: their dense weights never exist together.
 */
final class PresetWeights {
    private static final double INITIALIZER_RANGE = 0.02;
    /** Values drawn per copy into a tensor: a small staging buffer instead of a whole weight on the heap. */
    private static final int CHUNK = 1 << 16;

    private PresetWeights() {}

    static void initialize(Module root, ModelLoader.Quantization quantization, long seed) {
        Set<Parameter> ones = Collections.newSetFromMap(new IdentityHashMap<>());
        root.namedModules().values().forEach(m -> {
            if (m instanceof RMSNorm n) {
                ones.add(n.weight());
            } else if (m instanceof LayerNorm n) {
                ones.add(n.weight());
            }
        });
        if (quantization != null) {
            for (Map.Entry<String, LinearLayer> e : QuantizedCheckpoint.quantizable(root).entrySet()) {
                LinearLayer layer = e.getValue();
                Tensor placeholder = layer.weight().value();
                try (Scope staging = Scope.detached("preset")) {
                    Tensor dense = placeholder.backend().empty(placeholder.dtype(), placeholder.shape(), staging);
                    normal(dense, seed ^ e.getKey().hashCode());
                    Scope keep = placeholder.storage().scope();
                    layer.setWeightSource(new QuantizedWeight(quantization.quantizer().quantize(dense, quantization.config(), keep),
                            quantization.quantizer()));
                }
                BlockPool.trim(); // the unwritten dense block goes back to the system before the next staging copy can reuse it
            }
        }
        root.namedParameters().forEach((name, p) -> {
            Tensor t = p.value();
            if (ones.contains(p)) {
                t.backend().fill(t, 1.0);
            } else if (t.rank() == 1) {
                t.backend().fill(t, 0.0); // a bias
            } else {
                normal(t, seed ^ name.hashCode());
            }
        });
    }

    /** Fills a contiguous floating-point tensor with N(0, 0.02²), chunk by chunk. */
    private static void normal(Tensor t, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        long n = t.numel();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate((long) CHUNK * Float.BYTES, 64);
            for (long off = 0; off < n; off += CHUNK) {
                int len = (int) Math.min(CHUNK, n - off);
                for (int i = 0; i < len; i++) {
                    buf.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) (r.nextGaussian() * INITIALIZER_RANGE));
                }
                Tensor part = t.asStrided(new int[] {len}, new long[] {1}, t.offset() + off); // [len] of the flat tensor
                if (t.dtype() == DType.F32) {
                    t.backend().copyFromBytes(buf.asSlice(0, (long) len * Float.BYTES), part);
                } else {
                    try (Scope s = Scope.detached("preset")) {
                        Tensor f32 = t.backend().empty(DType.F32, new int[] {len}, s);
                        t.backend().copyFromBytes(buf.asSlice(0, (long) len * Float.BYTES), f32);
                        t.backend().copy(f32, part);
                    }
                }
            }
        }
    }
}
