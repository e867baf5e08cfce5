package ai.attune.plugins.optim.adamw8bit;

import ai.attune.api.nn.Parameter;
import ai.attune.api.spi.OptimizerState;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;
import ai.attune.kernels.jvm.JvmBackend;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/**
 * Small tensors stepped by hand through bitsandbytes' 8-bit update (kOptimizerStatic8bit2StateBlockwise)
 * and its 32-bit one (kOptimizer32bit2State). The codes are worked out from the dynamic maps'
 * closed form, where decade e = 0..6 holds the values 10^(e-6) · (0.1 + 0.9 (j + ½) / k):
 * <ul>
 *   <li>signed map: k = 2^e, positives at indices 127 + 2^e + j (0 at 127, 1 at 255), and
 *       code[254 - i] = -code[i];</li>
 *   <li>unsigned map: k = 2^(e+1), at indices 2^(e+1) - 1 + j (0 at 0, 1 at 255).</li>
 * </ul>
 * Parameters agree with the closed forms to f32 rounding (1e-6); codes exactly.
 */
class AdamW8bitGoldenTest {
    private static final double TOL = 1e-6;
    /** betas (0.5, 0.75), eps 0, no decay, and min_8bit_size 0: every tensor, however small, takes the 8-bit update. */
    private static final AdamW8bitConfig SMALL = new AdamW8bitConfig(List.of(0.5, 0.75), 0, 0, false, 0);

    private final Backend be = new JvmBackend();

    private static double signed(int e, int j) {
        return Math.pow(10, e - 6) * (0.1 + 0.9 * (j + 0.5) / (1 << e));
    }

    private static double unsigned(int e, int j) {
        return Math.pow(10, e - 6) * (0.1 + 0.9 * (j + 0.5) / (1 << (e + 1)));
    }

    @Test
    void twoStepsThroughTheDynamicMaps() {
        try (Scope job = Scope.open("job")) {
            Parameter p = new Parameter("w", Tensors.of(be, new float[] {1, 1, 1, 1}, 4), true);
            OptimizerState state = new OptimizerState(job);
            AdamW8bitOptimizer opt = new AdamW8bitOptimizer();

            // Step 1, g = [1, -0.5, 0.25, -0.1]: m = 0.5 g = [0.5, -0.25, 0.125, -0.05], v = 0.25 g^2 = [0.25, 0.0625, 0.015625, 0.0025].
            // The update reads the moments before they are coded. correction1 = 0.5 and correction2 = sqrt(0.25) = 0.5, so
            // step_size = -0.1 and m / sqrt(v) = sign(g): p1 = 1 - 0.1 sign(g).
            step(opt, p, state, 0.1, 1, -0.5f, 0.25f, -0.1f);
            assertArrayEquals(new double[] {0.9, 1.1, 0.9, 1.1}, Tensors.toDoubles(p.value()), TOL);
            // absmax1 = 0.5 and absmax2 = 0.25, so the coded values are m / 0.5 = [1, -0.5, 0.25, -0.1] and v / 0.25 = [1, 0.25, 0.0625, 0.01]:
            //   1     -> 255 on both maps.
            //   -0.5  -> between 0.1 + 0.9 * 27.5/64 = 0.48671875 and 0.1 + 0.9 * 28.5/64 = 0.50078125 (e 6, j 28, index 219): mirrored, 35.
            //   0.25  -> 0.1 + 0.9 * 10.5/64 = 0.24765625 (e 6, j 10, index 201), not 0.26171875.
            //   -0.1  -> below e 6's first value 0.10703125, above e 5's last 0.09859375 (j 31, index 190), nearer it: mirrored, 64.
            //   0.25 unsigned   -> 0.1 + 0.9 * 21.5/128 = 0.251171875 (e 6, j 21, index 148), not 0.244140625.
            //   0.0625 unsigned -> 0.1 * (0.1 + 0.9 * 37.5/64) = 0.062734375 (e 5, j 37, index 100).
            //   0.01 unsigned   -> e 4's last, 0.01 * (0.1 + 0.9 * 31.5/32) = 0.009859375 (index 62), not e 5's first 0.010703125.
            assertArrayEquals(new int[] {255, 35, 201, 64}, codes(state, p, AdamW8bitOptimizer.STATE1));
            assertArrayEquals(new int[] {255, 148, 100, 62}, codes(state, p, AdamW8bitOptimizer.STATE2));
            assertArrayEquals(new float[] {0.5f}, Tensors.toFloats(state.find(p, AdamW8bitOptimizer.ABSMAX1)));
            assertArrayEquals(new float[] {0.25f}, Tensors.toFloats(state.find(p, AdamW8bitOptimizer.ABSMAX2)));

            // Step 2, g = [0.5, 0.5, -1, 0], from the dequantized moments code * absmax:
            double[] m1 = {0.5, -0.5 * signed(6, 28), 0.5 * signed(6, 10), -0.5 * signed(5, 31)};
            double[] v1 = {0.25, 0.25 * unsigned(6, 21), 0.25 * unsigned(5, 37), 0.25 * unsigned(4, 31)};
            double[] g = {0.5, 0.5, -1, 0};
            double[] p1 = {0.9, 1.1, 0.9, 1.1};
            // m2 = 0.5 m1 + 0.5 g, v2 = 0.75 v1 + 0.25 g^2; correction1 = 0.75, correction2 = sqrt(1 - 0.75^2) = sqrt(7) / 4;
            // p2 = p1 - 0.1 * (sqrt(7) / 4) / 0.75 * m2 / sqrt(v2). For the first element m2 = 0.5 and v2 = 0.25: p2 = 0.9 - sqrt(7) / 30.
            double[] m2 = new double[4];
            double[] v2 = new double[4];
            double[] p2 = new double[4];
            for (int i = 0; i < 4; i++) {
                m2[i] = 0.5 * m1[i] + 0.5 * g[i];
                v2[i] = 0.75 * v1[i] + 0.25 * g[i] * g[i];
                p2[i] = p1[i] - 0.1 * (Math.sqrt(7) / 4) / 0.75 * m2[i] / Math.sqrt(v2[i]);
            }
            step(opt, p, state, 0.1, 0.5f, 0.5f, -1, 0);
            assertEquals(0.9 - Math.sqrt(7) / 30, p2[0], 1e-15);
            assertArrayEquals(new double[] {0.81180829, 1.06675213, 0.97551500, 1.15055823}, p2, 1e-8);
            assertArrayEquals(p2, Tensors.toDoubles(p.value()), TOL);
            // absmax1 = |m2[0]| = 0.5: m2 / 0.5 = [1, 0.2496, -0.8762, -0.0493] -> 255; 0.24765625 (201);
            // -(0.1 + 0.9 * 55.5/64) = -0.88046875 (index 246 mirrored, 8); -0.1 * (0.1 + 0.9 * 13.5/32) = -0.04796875 (172 mirrored, 82).
            // absmax2 = v2[2] = 0.75 * 0.25 * 0.062734375 + 0.25: v2 / absmax2 = [0.9551, 0.4187, 1, 0.00706] -> 0.1 + 0.9 * 121.5/128
            // (index 248); 0.1 + 0.9 * 45.5/128 (172); 255; 0.01 * (0.1 + 0.9 * 21.5/32) = 0.007046875 (e 4, j 21, index 52).
            assertEquals(0.5, m2[0], 0);
            assertArrayEquals(new int[] {255, 201, 8, 82}, codes(state, p, AdamW8bitOptimizer.STATE1));
            assertArrayEquals(new int[] {248, 172, 255, 52}, codes(state, p, AdamW8bitOptimizer.STATE2));
            assertEquals(0.5, Tensors.item(state.find(p, AdamW8bitOptimizer.ABSMAX1)), 0);
            assertEquals(v2[2], Tensors.item(state.find(p, AdamW8bitOptimizer.ABSMAX2)), 1e-7);
            assertEquals(2.0, Tensors.item(state.find(p, AdamW8bitOptimizer.STEP)));
        }
    }

    @Test
    void aSmallNegativeFirstMomentKeepsItsSign() {
        try (Scope job = Scope.open("job")) {
            // m = 0.5 g: the coded values are [1, -1e-9, 1e-9, 0], all but the first nearest the code of 0 (index 127; the
            // smallest nonzero codes are +-0.55e-6). The kernel moves a code whose sign differs from its moment's one
            // code towards it: -1e-9 is kept as -0.55e-6 (index 126), +1e-9 stays at 0 (+0 has the positive sign).
            // The second moment is never negative and has no such correction: 0.25e-18 / 0.25 codes to 0.
            Parameter p = new Parameter("w", Tensors.of(be, new float[] {1, 1, 1, 1}, 4), true);
            OptimizerState state = new OptimizerState(job);
            AdamW8bitConfig eps = new AdamW8bitConfig(List.of(0.5, 0.75), 1e-8, 0, false, 0);
            step(new AdamW8bitOptimizer(), p, state, eps, 0.1, 1, -1e-9f, 1e-9f, 0);
            assertArrayEquals(new int[] {255, 126, 127, 127}, codes(state, p, AdamW8bitOptimizer.STATE1));
            assertArrayEquals(new int[] {255, 0, 0, 0}, codes(state, p, AdamW8bitOptimizer.STATE2));
        }
    }

    @Test
    void nonFiniteGradientElementsZeroTheirMomentsAndKeepTheirWeights() {
        try (Scope job = Scope.open("job")) {
            // weight_decay 0.5, lr 0.1: the finite elements move by 0.1 sign(g) as in step 1 above, then shrink by
            // 1 - 0.05 (bitsandbytes decays after the update): (1 - 0.1) * 0.95 = 0.855 and (1 + 0.1) * 0.95 = 1.045.
            // NaN and inf elements are neither updated nor decayed, and their moments are 0: codes 127 and 0.
            Parameter p = new Parameter("w", Tensors.of(be, new float[] {1, 1, 1, 1}, 4), true);
            OptimizerState state = new OptimizerState(job);
            AdamW8bitConfig decay = new AdamW8bitConfig(List.of(0.5, 0.75), 0, 0.5, false, 0);
            step(new AdamW8bitOptimizer(), p, state, decay, 0.1, 1, Float.NaN, Float.POSITIVE_INFINITY, -0.5f);
            assertArrayEquals(new double[] {0.855, 1, 1, 1.045}, Tensors.toDoubles(p.value()), TOL);
            assertArrayEquals(new int[] {255, 127, 127, 35}, codes(state, p, AdamW8bitOptimizer.STATE1));
            assertArrayEquals(new int[] {255, 0, 0, 148}, codes(state, p, AdamW8bitOptimizer.STATE2));
        }
    }

    @Test
    void tensorsBelowMin8bitSizeKeep32bitStateAndDecayAfterTheUpdate() {
        try (Scope job = Scope.open("job")) {
            // Defaults (betas 0.9, 0.999, eps 1e-8, weight_decay 0.01, min_8bit_size 4096), lr 0.1, g = 0.5 each step: one
            // element keeps f32 state. With a constant g, m / correction1 = g and sqrt(v) / correction2 = |g|, so the kernel's
            // step_size * m / (sqrt(v) + eps * correction2) is -lr g / (|g| + eps) = -0.099999998, and the decay follows it:
            //   p1 = (1 - 0.099999998) * 0.999           = 0.899100002   (torch's AdamW, decaying first: 0.899000002)
            //   p2 = (0.899100002 - 0.099999998) * 0.999 = 0.798300904
            //   p3 = (0.798300904 - 0.099999998) * 0.999 = 0.697602605
            // State after step 3: m = (1 - beta1^3) * 0.5 and v = (1 - beta2^3) * 0.25 with the betas as the kernel gets them, float32:
            // 0.9f = 0.899999976 gives m = 0.135500029, and 0.999f = 0.999000013 gives v = 0.000749240613, not 1 - 0.999^3's 0.00074925025.
            Parameter p = new Parameter("w", Tensors.of(be, new float[] {1}, 1), true);
            OptimizerState state = new OptimizerState(job);
            AdamW8bitOptimizer opt = new AdamW8bitOptimizer();
            double[] trace = new double[3];
            for (int s = 0; s < 3; s++) {
                step(opt, p, state, AdamW8bitConfig.DEFAULTS, 0.1, 0.5f);
                trace[s] = Tensors.item(p.value());
            }
            assertArrayEquals(new double[] {0.899100002, 0.798300904, 0.697602605}, trace, TOL);
            Tensor m = state.find(p, AdamW8bitOptimizer.STATE1);
            assertEquals(DType.F32, m.dtype());
            assertEquals(0.135500029, Tensors.item(m), TOL);
            assertEquals(0.000749240613, Tensors.item(state.find(p, AdamW8bitOptimizer.STATE2)), 1e-10);
            assertNull(state.find(p, AdamW8bitOptimizer.ABSMAX1));
            assertEquals(3.0, Tensors.item(state.find(p, AdamW8bitOptimizer.STEP)));
        }
    }

    @Test
    void min8bitSizeChoosesTheStateByElementCount() {
        try (Scope job = Scope.open("job")) {
            // bitsandbytes: p.numel() < min_8bit_size keeps f32 state. 4,095 elements do; 4,096 get u8 codes and
            // ceil(4096 / 256) = 16 maxima per moment; 4,097 get 17, the last block holding one element.
            OptimizerState state = new OptimizerState(job);
            AdamW8bitOptimizer opt = new AdamW8bitOptimizer();
            Parameter below = new Parameter("below", be.zeros(DType.F32, new int[] {4095}, job), true);
            Parameter at = new Parameter("at", be.zeros(DType.F32, new int[] {64, 64}, job), true);
            Parameter above = new Parameter("above", be.zeros(DType.F32, new int[] {4097}, job), true);
            Parameter frozen = new Parameter("frozen", be.zeros(DType.F32, new int[] {8192}, job), true);
            for (Parameter q : List.of(below, at, above)) {
                q.value().setGrad(be.zeros(DType.F32, q.value().shape(), job));
            }
            opt.step(List.of(below, at, above, frozen), state, AdamW8bitConfig.DEFAULTS, 1e-3);
            assertEquals(DType.F32, state.find(below, AdamW8bitOptimizer.STATE1).dtype());
            assertEquals(DType.F32, state.find(below, AdamW8bitOptimizer.STATE2).dtype());
            assertNull(state.find(below, AdamW8bitOptimizer.ABSMAX2));
            for (Parameter q : List.of(at, above)) {
                Tensor s1 = state.find(q, AdamW8bitOptimizer.STATE1);
                assertEquals(DType.U8, s1.dtype());
                assertArrayEquals(q.value().shape(), s1.shape());
                assertEquals(DType.U8, state.find(q, AdamW8bitOptimizer.STATE2).dtype());
            }
            assertArrayEquals(new int[] {16}, state.find(at, AdamW8bitOptimizer.ABSMAX1).shape());
            assertArrayEquals(new int[] {17}, state.find(above, AdamW8bitOptimizer.ABSMAX2).shape());
            assertNull(state.find(frozen, AdamW8bitOptimizer.STEP), "no gradient, no state");
            assertEquals(1, state.step());
            // Zero gradients: the moments are 0, every block's maximum is 0 and its codes are those of 0.
            assertEquals(0.0, Tensors.toDoubles(state.find(at, AdamW8bitOptimizer.ABSMAX1))[15]);
            assertEquals(127, codes(state, at, AdamW8bitOptimizer.STATE1)[4095]);
            assertArrayEquals(new float[64 * 64], Tensors.toFloats(at.value()));
        }
    }

    private static void step(AdamW8bitOptimizer opt, Parameter p, OptimizerState state, double lr, float... g) {
        step(opt, p, state, SMALL, lr, g);
    }

    private static void step(AdamW8bitOptimizer opt, Parameter p, OptimizerState state, AdamW8bitConfig c, double lr, float... g) {
        p.value().setGrad(Tensors.of(p.value().backend(), g, g.length));
        opt.step(List.of(p), state, c, lr);
    }

    private static int[] codes(OptimizerState state, Parameter p, String key) {
        Tensor t = state.find(p, key);
        assertEquals(DType.U8, t.dtype(), key);
        byte[] b = new byte[Math.toIntExact(t.numel())];
        t.backend().copyToBytes(t, MemorySegment.ofArray(b));
        int[] out = new int[b.length];
        for (int i = 0; i < b.length; i++) {
            out[i] = b[i] & 0xFF;
        }
        return out;
    }
}
