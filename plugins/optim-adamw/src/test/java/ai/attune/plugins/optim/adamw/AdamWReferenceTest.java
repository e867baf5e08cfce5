package ai.attune.plugins.optim.adamw;

import ai.attune.api.nn.Parameter;
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

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Several parameters over several steps against {@link Reference}, a plain double-precision
 * transcription of torch.optim.AdamW's algorithm box written for this test. Covers weight decay,
 * amsgrad, maximize, a per-step lr, and a parameter with no gradient at step 1 whose own step
 * count then starts at 1; checks the parameters and every state tensor after every step, on the
 * SIMD and the scalar jvm paths, in f32 (within f32 rounding) and f64 (to 1e-12).
 */
class AdamWReferenceTest {
    private static final int[][] SHAPES = {{3}, {2, 3}, {4}, {1}};
    /** Index of the parameter that gets no gradient at step 1. */
    private static final int LATE = 2;
    /** Index of the parameter that never gets a gradient. */
    private static final int FROZEN = 3;
    private static final double[] LRS = {1e-2, 5e-3, 2e-2, 1e-3, 1e-2};

    static Stream<Arguments> cases() {
        List<AdamWConfig> configs = List.of(
                AdamWConfig.DEFAULTS,
                new AdamWConfig(List.of(0.9, 0.999), 1e-8, 0.1, true, false),
                new AdamWConfig(List.of(0.8, 0.95), 1e-6, 0.05, false, true),
                new AdamWConfig(List.of(0.3, 0.9), 1e-8, 0, true, true));
        List<Arguments> out = new ArrayList<>();
        for (AdamWConfig c : configs) {
            for (boolean scalarKernels : new boolean[] {false, true}) {
                for (DType dtype : new DType[] {DType.F32, DType.F64}) {
                    out.add(Arguments.of(c, scalarKernels, dtype));
                }
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0} scalar={1} {2}")
    @MethodSource("cases")
    void matchesTheDoubleReference(AdamWConfig c, boolean scalarKernels, DType dtype) {
        Backend be = new JvmBackend(scalarKernels);
        SplittableRandom rng = new SplittableRandom(42);
        try (Scope job = Scope.open("job")) {
            List<Parameter> params = new ArrayList<>();
            List<Reference> refs = new ArrayList<>();
            for (int i = 0; i < SHAPES.length; i++) {
                double[] init = values(rng, size(SHAPES[i]), 1.0, dtype);
                params.add(new Parameter("p" + i, Tensors.of(be, dtype, init, SHAPES[i]), true));
                refs.add(new Reference(init));
            }
            OptimizerState state = new OptimizerState(job);
            AdamWOptimizer adamw = new AdamWOptimizer();
            for (int step = 0; step < LRS.length; step++) {
                for (int i = 0; i < params.size(); i++) {
                    Parameter p = params.get(i);
                    if (i == FROZEN || (i == LATE && step == 0)) {
                        p.value().setGrad(null);
                        continue;
                    }
                    // gradients of mixed scale, so the second moment rises and falls (amsgrad's max matters)
                    double scale = step % 2 == 0 ? 1.0 : 0.05;
                    double[] g = values(rng, size(SHAPES[i]), scale, dtype);
                    p.value().setGrad(Tensors.of(be, dtype, g, SHAPES[i]));
                    refs.get(i).step(g, c, LRS[step]);
                }
                adamw.step(params, state, c, LRS[step]);
                for (int i = 0; i < params.size(); i++) {
                    check(params.get(i), refs.get(i), state, c, dtype, "step " + (step + 1));
                }
            }
            assertEquals(LRS.length, state.step());
        }
    }

    /** Sizes that leave vector tails, one of the jvm kernel's parallel chunks of 16,384 and then some, and a prime over two chunks. */
    private static final int[] ODD_SIZES = {1, 7, 37, 1031, 16411, 40009};

    static Stream<Arguments> fusedCases() {
        return cases().filter(a -> a.get()[2] == DType.F32);
    }

    /**
     * The jvm backend's one-pass f32 update (its Vector API kernel, parallel over chunks, and its
     * scalar reference) on parameters of odd sizes, over six steps with a per-step lr.
     */
    @ParameterizedTest(name = "{0} scalar={1}")
    @MethodSource("fusedCases")
    void fusedStepOnOddSizesMatchesTheDoubleReference(AdamWConfig c, boolean scalarKernels, DType dtype) {
        Backend be = new JvmBackend(scalarKernels);
        SplittableRandom rng = new SplittableRandom(7);
        double[] lrs = {1e-2, 3e-3, 2e-2, 1e-3, 1e-2, 5e-3};
        try (Scope job = Scope.open("job")) {
            List<Parameter> params = new ArrayList<>();
            List<Reference> refs = new ArrayList<>();
            for (int n : ODD_SIZES) {
                double[] init = values(rng, n, 1.0, dtype);
                params.add(new Parameter("p" + n, Tensors.of(be, dtype, init, n), true));
                refs.add(new Reference(init));
            }
            OptimizerState state = new OptimizerState(job);
            AdamWOptimizer adamw = new AdamWOptimizer();
            for (int step = 0; step < lrs.length; step++) {
                double scale = step % 2 == 0 ? 1.0 : 0.05;
                for (int i = 0; i < params.size(); i++) {
                    double[] g = values(rng, ODD_SIZES[i], scale, dtype);
                    params.get(i).value().setGrad(Tensors.of(be, dtype, g, ODD_SIZES[i]));
                    refs.get(i).step(g, c, lrs[step]);
                }
                adamw.step(params, state, c, lrs[step]);
                for (int i = 0; i < params.size(); i++) {
                    check(params.get(i), refs.get(i), state, c, dtype, "step " + (step + 1));
                }
            }
        } finally {
            be.shutdown();
        }
    }

    private static void check(Parameter p, Reference ref, OptimizerState state, AdamWConfig c, DType dtype, String when) {
        String where = p.name() + " after " + when;
        close(ref.param, Tensors.toDoubles(p.value()), dtype, where + ": param");
        if (ref.step == 0) {
            assertNull(state.find(p, AdamWOptimizer.STEP), where + ": no state before the first gradient");
            return;
        }
        assertEquals(ref.step, Tensors.item(state.find(p, AdamWOptimizer.STEP)), where + ": step");
        close(ref.expAvg, Tensors.toDoubles(state.find(p, AdamWOptimizer.EXP_AVG)), dtype, where + ": exp_avg");
        close(ref.expAvgSq, Tensors.toDoubles(state.find(p, AdamWOptimizer.EXP_AVG_SQ)), dtype, where + ": exp_avg_sq");
        Tensor max = state.find(p, AdamWOptimizer.MAX_EXP_AVG_SQ);
        if (c.amsgrad()) {
            close(ref.maxExpAvgSq, Tensors.toDoubles(max), dtype, where + ": max_exp_avg_sq");
        } else {
            assertNull(max, where + ": max_exp_avg_sq only with amsgrad");
        }
    }

    /**
     * f32: each op rounds to about 6e-8 relative, a handful per step. A moment that cancels to near
     * 0 keeps the absolute error of its terms, whose scale is that of the gradients (|g| <= 1), so
     * the floor is about one f32 ulp at 1 (torch's f32 kernels round the same way).
     */
    private static void close(double[] expected, double[] actual, DType dtype, String what) {
        double rel = dtype == DType.F64 ? 1e-12 : 1e-6;
        double abs = dtype == DType.F64 ? 1e-15 : 1e-7;
        for (int j = 0; j < expected.length; j++) {
            double err = Math.abs(actual[j] - expected[j]);
            if (!(err <= rel * Math.abs(expected[j]) + abs)) {
                fail(what + "[" + j + "]: expected " + expected[j] + ", got " + actual[j] + " (error " + err + ")");
            }
        }
    }

    private static double[] values(SplittableRandom rng, int n, double scale, DType dtype) {
        double[] v = new double[n];
        for (int j = 0; j < n; j++) {
            double x = (rng.nextDouble() * 2 - 1) * scale;
            v[j] = dtype == DType.F64 ? x : (float) x; // the reference sees exactly the values the tensor holds
        }
        return v;
    }

    private static int size(int[] shape) {
        int n = 1;
        for (int d : shape) {
            n *= d;
        }
        return n;
    }

    /** torch.optim.AdamW's algorithm, one parameter, element by element in double. */
    private static final class Reference {
        final double[] param;
        final double[] expAvg;
        final double[] expAvgSq;
        final double[] maxExpAvgSq;
        int step;

        Reference(double[] init) {
            param = init.clone();
            expAvg = new double[init.length];
            expAvgSq = new double[init.length];
            maxExpAvgSq = new double[init.length];
        }

        void step(double[] grad, AdamWConfig c, double lr) {
            step++;
            double b1 = c.beta1(), b2 = c.beta2();
            double bc1 = 1 - Math.pow(b1, step);
            double bc2 = 1 - Math.pow(b2, step);
            for (int j = 0; j < param.length; j++) {
                double g = c.maximize() ? -grad[j] : grad[j];
                param[j] *= 1 - lr * c.weightDecay();
                expAvg[j] = b1 * expAvg[j] + (1 - b1) * g;
                expAvgSq[j] = b2 * expAvgSq[j] + (1 - b2) * g * g;
                maxExpAvgSq[j] = Math.max(maxExpAvgSq[j], expAvgSq[j]);
                double second = c.amsgrad() ? maxExpAvgSq[j] : expAvgSq[j];
                double mHat = expAvg[j] / bc1;
                double vHat = second / bc2;
                param[j] -= lr * mHat / (Math.sqrt(vHat) + c.eps());
            }
        }
    }
}
