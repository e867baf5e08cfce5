package ai.attune.plugins.optim.adafactor;

import ai.attune.api.nn.Parameter;
import ai.attune.api.spi.OptimizerState;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensors;
import ai.attune.kernels.jvm.JvmBackend;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * One step of transformers' Adafactor with its defaults (relative_step, scale_parameter, no beta1,
 * eps (1e-30, 1e-3), clip_threshold 1, decay_rate -0.8), worked by hand on a 2x3 matrix and a
 * 3-vector. At step 1, beta2t = 1 - 1^-0.8 = 0, so the second moments are just this step's
 * g^2 + 1e-30, and the relative step is min(1e-2, 1/sqrt(1)) = 1e-2. f32 rounding stays within 1e-7.
 */
class AdafactorGoldenTest {
    private static final double TOL = 1e-7;
    private final Backend be = new JvmBackend();

    @Test
    void oneStepOnAMatrixAndAVector() {
        try (Scope job = Scope.open("job")) {
            // W = [[0.5, -0.5, 1], [-1, 0.5, 0.5]], G = [[2, 0, 0], [0, 1, 1]]
            Parameter w = param("w", new float[] {0.5f, -0.5f, 1, -1, 0.5f, 0.5f}, new float[] {2, 0, 0, 0, 1, 1}, 2, 3);
            // v = [3, 0, 4], g = [0.5, -2, 0]
            Parameter v = param("v", new float[] {3, 0, 4}, new float[] {0.5f, -2, 0}, 3);
            OptimizerState state = new OptimizerState(job);
            new AdafactorOptimizer().step(List.of(w, v), state, AdafactorConfig.DEFAULTS, Double.NaN);

            // Matrix. G^2 = [[4, 0, 0], [0, 1, 1]] (+1e-30, which only keeps the zeros off 0):
            //   exp_avg_sq_row = row means = [4/3, 2/3], exp_avg_sq_col = column means = [2, 0.5, 0.5]
            //   estimate of G^2 = row_i * col_j / mean(row) with mean(row) = 1:
            //     [[8/3, 2/3, 2/3], [4/3, 1/3, 1/3]]
            //   update = G / sqrt(estimate) = [[2 / sqrt(8/3), 0, 0], [0, sqrt(3), sqrt(3)]] = [[sqrt(1.5), 0, 0], [0, sqrt(3), sqrt(3)]]
            //   rms(update) = sqrt((1.5 + 3 + 3) / 6) = sqrt(1.25) > clip_threshold 1: divide by it ->
            //     [[sqrt(1.2), 0, 0], [0, sqrt(2.4), sqrt(2.4)]]
            //   step size = 1e-2 * max(1e-3, rms(W)) = 1e-2 * sqrt(3 / 6) = 1e-2 * sqrt(0.5)
            //   W' = W - step * update: w00 = 0.5 - 1e-2 sqrt(0.6), w11 = w12 = 0.5 - 1e-2 sqrt(1.2)
            double a = 0.5 - 1e-2 * Math.sqrt(0.6);
            double b = 0.5 - 1e-2 * Math.sqrt(1.2);
            assertEquals(0.492254033, a, 1e-9);
            assertEquals(0.489045549, b, 1e-9);
            assertArrayEquals(new double[] {a, -0.5, 1, -1, b, b}, Tensors.toDoubles(w.value()), TOL);
            assertArrayEquals(new double[] {4.0 / 3, 2.0 / 3}, Tensors.toDoubles(state.find(w, AdafactorOptimizer.EXP_AVG_SQ_ROW)), TOL);
            assertArrayEquals(new double[] {2, 0.5, 0.5}, Tensors.toDoubles(state.find(w, AdafactorOptimizer.EXP_AVG_SQ_COL)), TOL);
            assertNull(state.find(w, AdafactorOptimizer.EXP_AVG_SQ), "a matrix keeps no full second moment");

            // Vector (unfactored). exp_avg_sq = g^2 + 1e-30 = [0.25, 4, 1e-30];
            //   update = g / sqrt(exp_avg_sq) = [1, -1, 0]: rms = sqrt(2/3) < 1, no clipping
            //   step size = 1e-2 * rms([3, 0, 4]) = 1e-2 * sqrt(25/3) = 0.0288675135
            //   v' = [3 - 0.0288675135, 0.0288675135, 4]
            double s = 1e-2 * Math.sqrt(25.0 / 3);
            assertEquals(0.0288675135, s, 1e-10);
            assertArrayEquals(new double[] {3 - s, s, 4}, Tensors.toDoubles(v.value()), TOL);
            assertArrayEquals(new double[] {0.25, 4, 1e-30}, Tensors.toDoubles(state.find(v, AdafactorOptimizer.EXP_AVG_SQ)), 1e-37);
            assertNull(state.find(v, AdafactorOptimizer.EXP_AVG_SQ_ROW));

            assertEquals(1.0, Tensors.item(state.find(w, AdafactorOptimizer.STEP)));
            assertNull(state.find(w, AdafactorOptimizer.EXP_AVG), "no first moment without beta1");
            assertEquals(1, state.step());
        }
    }

    @Test
    void aZeroParameterStepsByTheEps2Floor() {
        // A zero-initialised weight (a LoRA B, say) has rms 0, so the step size is 1e-2 * eps2 = 1e-5;
        // its unfactored update is sign(g): [1, -1, 1] -> p' = [-1e-5, 1e-5, -1e-5].
        try (Scope job = Scope.open("job")) {
            Parameter p = param("b", new float[3], new float[] {1, -1, 2}, 3);
            new AdafactorOptimizer().step(List.of(p), new OptimizerState(job), AdafactorConfig.DEFAULTS, Double.NaN);
            assertArrayEquals(new double[] {-1e-5, 1e-5, -1e-5}, Tensors.toDoubles(p.value()), 1e-12);
        }
    }

    @Test
    void warmupInitStartsFromATinyStep() {
        // warmup_init: relative step min(1e-6 * t, 1/sqrt(t)) = 1e-6 at step 1, 2e-6 at step 2; no
        // parameter scaling, so with g = [1, -1] the vector moves by -1e-6 * [1, -1], then by 2e-6 *
        // the step-2 update. Step 2: beta2t = 1 - 2^-0.8 = 0.4256515; g is the same, so exp_avg_sq
        // stays g^2 and the update is again [1, -1].
        AdafactorConfig warm = new AdafactorConfig(List.of(1e-30, 1e-3), 1, -0.8, null, 0, false, true, true);
        try (Scope job = Scope.open("job")) {
            Parameter p = param("p", new float[] {1, 1}, new float[] {1, -1}, 2);
            OptimizerState state = new OptimizerState(job);
            AdafactorOptimizer opt = new AdafactorOptimizer();
            opt.step(List.of(p), state, warm, Double.NaN);
            assertArrayEquals(new double[] {1 - 1e-6, 1 + 1e-6}, Tensors.toDoubles(p.value()), 1e-7);
            opt.step(List.of(p), state, warm, Double.NaN);
            assertArrayEquals(new double[] {1 - 3e-6, 1 + 3e-6}, Tensors.toDoubles(p.value()), 1e-7);
            assertArrayEquals(new double[] {1, 1}, Tensors.toDoubles(state.find(p, AdafactorOptimizer.EXP_AVG_SQ)), 1e-7);
        }
    }

    @Test
    void halfPrecisionParametersAreUpdatedThroughAnF32CopyWithF32State() {
        // transformers steps a bf16 weight as p.float(), then copies back: the bf16 result is the
        // f32 result rounded to bf16 (the values here are exact in both).
        try (Scope job = Scope.open("job")) {
            float[] init = {0.5f, -0.5f, 1, -1, 0.5f, 0.25f};
            float[] grad = {2, 0, -1, 0.5f, 1, 1};
            Parameter f32 = param("w", init, grad, 2, 3);
            Parameter bf16 = new Parameter("w", cast(Tensors.of(be, init, 2, 3), DType.BF16, job), true);
            bf16.value().setGrad(cast(Tensors.of(be, grad, 2, 3), DType.BF16, job));
            OptimizerState s32 = new OptimizerState(job);
            OptimizerState s16 = new OptimizerState(job);
            new AdafactorOptimizer().step(List.of(f32), s32, AdafactorConfig.DEFAULTS, Double.NaN);
            new AdafactorOptimizer().step(List.of(bf16), s16, AdafactorConfig.DEFAULTS, Double.NaN);
            assertEquals(DType.BF16, bf16.value().dtype());
            assertArrayEquals(Tensors.toDoubles(cast(f32.value(), DType.BF16, job)), Tensors.toDoubles(bf16.value()));
            assertEquals(DType.F32, s16.find(bf16, AdafactorOptimizer.EXP_AVG_SQ_ROW).dtype());
            assertArrayEquals(Tensors.toDoubles(s32.find(f32, AdafactorOptimizer.EXP_AVG_SQ_COL)),
                    Tensors.toDoubles(s16.find(bf16, AdafactorOptimizer.EXP_AVG_SQ_COL)));
            assertTrue(!java.util.Arrays.equals(Tensors.toFloats(Tensors.of(be, init, 2, 3)), Tensors.toFloats(cast(bf16.value(), DType.F32, job))),
                    "the step moved the bf16 weight");
        }
    }

    private Parameter param(String name, float[] value, float[] grad, int... shape) {
        Parameter p = new Parameter(name, Tensors.of(be, value, shape), true);
        p.value().setGrad(Tensors.of(be, grad, shape));
        return p;
    }

    private ai.attune.api.tensor.Tensor cast(ai.attune.api.tensor.Tensor t, DType dtype, Scope scope) {
        ai.attune.api.tensor.Tensor out = be.zeros(dtype, t.shape(), scope);
        be.copy(t, out);
        return out;
    }
}
