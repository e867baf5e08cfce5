package ai.attune.plugins.optim.adamw8bit;

import ai.attune.api.nn.Parameter;
import ai.attune.api.quant.DynamicMap;
import ai.attune.api.spi.OptimizerState;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;
import ai.attune.kernels.jvm.JvmBackend;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Several parameters over several steps against {@link Reference}, a plain scalar re-implementation
 * of bitsandbytes' AdamW8bit written for this test from the kernels' formulas: per element,
 * dequantize (code * absmax), the float32 Adam update, then each block's new maximum and the
 * nearest code by a linear scan of the map, with the kernel's float32 midpoints and ties to the
 * even index, and the sign correction of the first moment. Tensors below min_8bit_size take the
 * 32-bit formulas. The result must agree bit for bit: parameters, codes, block maxima, f32 states.
 *
 * <p>The shapes cover a tensor with f32 state, one whose last block is partial, one longer than a
 * worker's run of 16,384 elements (so runs meet mid-tensor), one that first gets a gradient at
 * step 2 and one that never does; a NaN gradient element on the 8-bit path at step 3; f32 and bf16
 * parameters.
 */
class AdamW8bitReferenceTest {
    private static final int[][] SHAPES = {{300}, {3, 700}, {64, 300}, {1000}, {2048}};
    private static final long MIN_8BIT = 1000; // [300] keeps f32 state, the rest are 8-bit
    private static final int LATE = 3;
    private static final int FROZEN = 4;
    private static final double[] LRS = {1e-2, 5e-3, 2e-2, 1e-3, 1e-2};

    static Stream<Arguments> cases() {
        List<AdamW8bitConfig> configs = List.of(
                new AdamW8bitConfig(List.of(0.9, 0.999), 1e-8, 1e-2, false, MIN_8BIT),
                new AdamW8bitConfig(List.of(0.8, 0.95), 1e-6, 0.1, false, MIN_8BIT),
                new AdamW8bitConfig(List.of(0.0, 0.5), 1e-8, 0, false, MIN_8BIT));
        List<Arguments> out = new ArrayList<>();
        for (AdamW8bitConfig c : configs) {
            for (DType dtype : new DType[] {DType.F32, DType.BF16}) {
                out.add(Arguments.of(c, dtype));
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("cases")
    void agreesBitForBitWithTheScalarReference(AdamW8bitConfig c, DType dtype) {
        Backend be = new JvmBackend();
        SplittableRandom rng = new SplittableRandom(7);
        try (Scope job = Scope.open("job")) {
            List<Parameter> params = new ArrayList<>();
            List<Reference> refs = new ArrayList<>();
            for (int i = 0; i < SHAPES.length; i++) {
                float[] init = values(rng, size(SHAPES[i]), 1.0, dtype);
                params.add(new Parameter("p" + i, tensor(be, init, dtype, SHAPES[i]), true));
                refs.add(new Reference(init, size(SHAPES[i]) >= c.min8bitSize(), dtype));
            }
            OptimizerState state = new OptimizerState(job);
            AdamW8bitOptimizer opt = new AdamW8bitOptimizer();
            for (int step = 0; step < LRS.length; step++) {
                for (int i = 0; i < params.size(); i++) {
                    Parameter p = params.get(i);
                    if (i == FROZEN || (i == LATE && step == 0)) {
                        p.value().setGrad(null);
                        continue;
                    }
                    // gradients of mixed scale, so blocks' maxima rise and fall between steps
                    double scale = step % 2 == 0 ? 1.0 : 0.05;
                    float[] g = values(rng, size(SHAPES[i]), scale, dtype);
                    if (step == 2 && i == 2) {
                        g[5000] = Float.NaN;
                    }
                    p.value().setGrad(tensor(be, g, dtype, SHAPES[i]));
                    refs.get(i).step(g, c, LRS[step]);
                }
                opt.step(params, state, c, LRS[step]);
                for (int i = 0; i < params.size(); i++) {
                    check(params.get(i), refs.get(i), state, "step " + (step + 1));
                }
            }
        }
    }

    private static void check(Parameter p, Reference ref, OptimizerState state, String when) {
        String where = p.name() + " after " + when;
        same(ref.param, Tensors.toFloats(p.value()), where + ": param");
        if (ref.step == 0) {
            assertNull(state.find(p, AdamW8bitOptimizer.STEP), where + ": no state before the first gradient");
            return;
        }
        assertEquals(ref.step, Tensors.item(state.find(p, AdamW8bitOptimizer.STEP)), where + ": step");
        if (ref.eightBit) {
            assertArrayEquals(ref.c1, bytes(state.find(p, AdamW8bitOptimizer.STATE1)), where + ": state1");
            assertArrayEquals(ref.c2, bytes(state.find(p, AdamW8bitOptimizer.STATE2)), where + ": state2");
            same(ref.absmax1, Tensors.toFloats(state.find(p, AdamW8bitOptimizer.ABSMAX1)), where + ": absmax1");
            same(ref.absmax2, Tensors.toFloats(state.find(p, AdamW8bitOptimizer.ABSMAX2)), where + ": absmax2");
        } else {
            same(ref.m, Tensors.toFloats(state.find(p, AdamW8bitOptimizer.STATE1)), where + ": state1");
            same(ref.v, Tensors.toFloats(state.find(p, AdamW8bitOptimizer.STATE2)), where + ": state2");
        }
    }

    private static void same(float[] expected, float[] actual, String what) {
        assertEquals(expected.length, actual.length, what);
        for (int j = 0; j < expected.length; j++) {
            if (Float.floatToIntBits(expected[j]) != Float.floatToIntBits(actual[j])) {
                fail(what + "[" + j + "]: expected " + expected[j] + ", got " + actual[j]);
            }
        }
    }

    private static Tensor tensor(Backend be, float[] v, DType dtype, int[] shape) {
        double[] d = new double[v.length];
        for (int j = 0; j < v.length; j++) {
            d[j] = v[j];
        }
        return Tensors.of(be, dtype, d, shape);
    }

    /** Uniform in [-scale, scale), already rounded to dtype, so the reference sees what the tensor holds. */
    private static float[] values(SplittableRandom rng, int n, double scale, DType dtype) {
        float[] v = new float[n];
        for (int j = 0; j < n; j++) {
            v[j] = round((float) ((rng.nextDouble() * 2 - 1) * scale), dtype);
        }
        return v;
    }

    private static float round(float x, DType dtype) {
        return dtype == DType.BF16 ? DType.bf16ToFloat(DType.floatToBf16(x)) : x;
    }

    private static byte[] bytes(Tensor t) {
        assertEquals(DType.U8, t.dtype());
        byte[] b = new byte[Math.toIntExact(t.numel())];
        t.backend().copyToBytes(t, MemorySegment.ofArray(b));
        return b;
    }

    private static int size(int[] shape) {
        int n = 1;
        for (int d : shape) {
            n *= d;
        }
        return n;
    }

    /** bitsandbytes' AdamW8bit for one parameter, element by element in float32. */
    private static final class Reference {
        static final int BLOCK = 256;
        static final float[] SIGNED = DynamicMap.signed();
        static final float[] UNSIGNED = DynamicMap.unsigned();

        final float[] param;
        final boolean eightBit;
        final DType dtype;
        final float[] m;
        final float[] v;
        final byte[] c1;
        final byte[] c2;
        final float[] absmax1;
        final float[] absmax2;
        int step;

        Reference(float[] init, boolean eightBit, DType dtype) {
            param = init.clone();
            this.eightBit = eightBit;
            this.dtype = dtype;
            int n = init.length;
            int blocks = (n + BLOCK - 1) / BLOCK;
            m = new float[n];
            v = new float[n];
            c1 = new byte[n]; // zero codes with zero maxima: every state starts at 0
            c2 = new byte[n];
            absmax1 = new float[blocks];
            absmax2 = new float[blocks];
        }

        void step(float[] g, AdamW8bitConfig c, double lrD) {
            step++;
            float b1 = (float) c.beta1();
            float b2 = (float) c.beta2();
            float eps = (float) c.eps();
            float lr = (float) lrD;
            float wd = (float) c.weightDecay();
            float correction1 = 1f - (float) Math.pow(b1, step);
            float correction2 = (float) Math.sqrt(1f - (float) Math.pow(b2, step));
            float stepSize = -lr * correction2 / correction1;
            int n = param.length;
            for (int i = 0; i < n; i++) {
                int b = i / BLOCK;
                boolean finite = Float.isFinite(g[i]);
                if (eightBit) {
                    // dequantize; a non-finite gradient element zeroes its moments and leaves its weight
                    m[i] = finite ? SIGNED[c1[i] & 0xFF] * absmax1[b] * b1 + (1f - b1) * g[i] : 0f;
                    v[i] = finite ? UNSIGNED[c2[i] & 0xFF] * absmax2[b] * b2 + (1f - b2) * g[i] * g[i] : 0f;
                    if (finite) {
                        param[i] = round(param[i] + stepSize * (m[i] / ((float) Math.sqrt(v[i]) + correction2 * eps)), dtype);
                    }
                } else {
                    m[i] = m[i] * b1 + (1f - b1) * g[i];
                    v[i] = v[i] * b2 + (1f - b2) * (g[i] * g[i]);
                    param[i] = round(param[i] + stepSize * (m[i] / ((float) Math.sqrt(v[i]) + eps * correction2)), dtype);
                }
                if (wd > 0f && (finite || !eightBit)) {
                    param[i] = round(param[i] * (1f - lr * wd), dtype);
                }
            }
            if (!eightBit) {
                return;
            }
            for (int b = 0; b * BLOCK < n; b++) {
                int end = Math.min(n, (b + 1) * BLOCK);
                float max1 = 0f;
                float max2 = 0f;
                for (int i = b * BLOCK; i < end; i++) {
                    max1 = Math.max(max1, Math.abs(m[i]));
                    max2 = Math.max(max2, v[i]);
                }
                absmax1[b] = max1;
                absmax2[b] = max2;
                for (int i = b * BLOCK; i < end; i++) {
                    int q1 = max1 == 0f ? 127 : nearest(SIGNED, m[i] / max1);
                    // keep the sign: a code of the other sign moves one step towards the moment's own
                    if ((Float.floatToRawIntBits(SIGNED[q1]) < 0) != (Float.floatToRawIntBits(m[i]) < 0)) {
                        q1 += m[i] > 0f ? 1 : -1;
                    }
                    c1[i] = (byte) q1;
                    c2[i] = (byte) (max2 == 0f ? 0 : nearest(UNSIGNED, v[i] / max2));
                }
            }
        }

        /** The code nearest x: the pair of neighbours around it by a scan, then the kernel's midpoint (a + b) * 0.5f; a tie takes the even index. */
        static int nearest(float[] code, float x) {
            if (x <= code[0]) {
                return 0;
            }
            int k = 0;
            while (k < 254 && code[k + 1] < x) {
                k++;
            }
            float mid = (code[k] + code[k + 1]) * 0.5f;
            if (x != mid) {
                return x > mid ? k + 1 : k;
            }
            return k % 2 == 0 ? k : k + 1;
        }
    }
}
