package ai.attune.kernels.jvm;

import ai.attune.api.tensor.AdamWStep;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static ai.attune.kernels.jvm.KernelTests.BE;
import static ai.attune.kernels.jvm.KernelTests.POOL;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The Vector API AdamW step against its scalar reference, bit for bit, on one thread and on
 * several, over sizes that leave a vector tail and that span several parallel chunks with a short
 * last one; each configuration takes every branch (decay or not, both sides of lerp, amsgrad,
 * maximize). The reference itself is checked against a double-precision oracle in optim-adamw.
 */
class FastAdamWTest {
    private static final int[] SIZES = {1, 3, 17, 1001, FastAdamW.CHUNK, 2 * FastAdamW.CHUNK + 37};

    private record Config(double beta1, double beta2, double eps, double weightDecay, boolean amsgrad, boolean maximize) {}

    private static final List<Config> CONFIGS = List.of(
            new Config(0.9, 0.999, 1e-8, 0.01, false, false),
            new Config(0.9, 0.999, 1e-8, 0.1, true, false),
            new Config(0.3, 0.9, 1e-6, 0, true, true),
            new Config(0.8, 0.95, 1e-8, 0.05, false, true));

    /** p, m, v, v_max for one run: [0] the reference, [1] one thread, [2] four. */
    private static float[][][] run(Config c, int n, long seed) {
        float[][][] out = new float[3][][];
        try (Scope s = Scope.open("test")) {
            List<Tensor[]> states = new ArrayList<>();
            Random init = new Random(seed);
            double[] p0 = init.doubles(n, -1, 1).toArray();
            for (int k = 0; k < 3; k++) {
                states.add(new Tensor[] {Tensors.of(BE, DType.F32, p0, n), BE.zeros(DType.F32, new int[] {n}, s),
                        BE.zeros(DType.F32, new int[] {n}, s), BE.zeros(DType.F32, new int[] {n}, s)});
            }
            Random r = new Random(seed + 1);
            for (int t = 1; t <= 4; t++) {
                double scale = t % 2 == 1 ? 1 : 1e-3; // the second moment falls, so v_max differs from v
                double[] g0 = r.doubles(n, -scale, scale).toArray();
                if (n > 2) {
                    g0[n / 2] = 0; // a zero gradient: the update is 0 / (0 + eps)
                }
                Tensor g = Tensors.of(BE, DType.F32, g0, n);
                AdamWStep h = new AdamWStep(1e-2 / t, c.beta1(), c.beta2(), c.eps(), c.weightDecay(), c.maximize(), t);
                for (int k = 0; k < 3; k++) {
                    Tensor[] st = states.get(k);
                    AdamW.Operands o = AdamW.Operands.of(st[0], g, st[1], st[2], c.amsgrad() ? st[3] : null);
                    AdamW.Scalars sc = AdamW.Scalars.of(h);
                    switch (k) {
                        case 0 -> AdamW.update(sc, o, 0, n);
                        case 1 -> FastAdamW.update(sc, o, null, 1);
                        default -> FastAdamW.update(sc, o, POOL, 4);
                    }
                }
            }
            for (int k = 0; k < 3; k++) {
                Tensor[] st = states.get(k);
                out[k] = new float[][] {Tensors.toFloats(st[0]), Tensors.toFloats(st[1]), Tensors.toFloats(st[2]), Tensors.toFloats(st[3])};
            }
        }
        return out;
    }

    @Test
    void vectorPassIsTheReferenceBitForBitForAnyThreadCount() {
        String[] names = {"param", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"};
        for (Config c : CONFIGS) {
            for (int n : SIZES) {
                float[][][] r = run(c, n, n * 7919L + CONFIGS.indexOf(c));
                for (int j = 0; j < names.length; j++) {
                    String what = c + " n=" + n + " " + names[j];
                    assertArrayEquals(r[0][j], r[1][j], what + ": vector pass vs reference");
                    assertArrayEquals(r[1][j], r[2][j], what + ": 1 vs 4 threads");
                }
            }
        }
    }

    @Test
    void theBackendTakesTheFusedPassOnlyForContiguousF32() {
        // bf16 takes the composed default, whose ops round to bf16 one by one; both backends agree.
        try (Scope s = Scope.open("test")) {
            int n = 40;
            double[] p0 = new Random(3).doubles(n, -1, 1).toArray();
            double[] g0 = new Random(4).doubles(n, -1, 1).toArray();
            AdamWStep h = new AdamWStep(0.01, 0.9, 0.999, 1e-8, 0.01, false, 1);
            float[][] got = new float[2][];
            JvmBackend[] backends = {new JvmBackend(false), new JvmBackend(true)};
            for (int k = 0; k < 2; k++) {
                JvmBackend be = backends[k];
                Tensor p = Tensors.of(be, DType.BF16, p0, n);
                be.adamwStep(h, p, Tensors.of(be, DType.BF16, g0, n), be.zeros(DType.BF16, new int[] {n}, s), be.zeros(DType.BF16, new int[] {n}, s), null);
                got[k] = Tensors.toFloats(p);
                be.shutdown();
            }
            assertArrayEquals(got[1], got[0]);
            // step 1 with defaults: m_hat = g and v_hat = g^2, so each weight moves by lr * sign(g) after the decay
            for (int i = 0; i < n; i++) {
                float p = DType.bf16ToFloat(DType.floatToBf16((float) p0[i]));
                assertEquals(p * 0.9999 - 0.01 * Math.signum(DType.bf16ToFloat(DType.floatToBf16((float) g0[i]))), got[0][i], 0.01, "bf16 weight " + i);
            }
        }
    }
}
