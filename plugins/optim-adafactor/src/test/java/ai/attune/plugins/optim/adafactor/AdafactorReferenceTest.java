package ai.attune.plugins.optim.adafactor;

import ai.attune.api.nn.Parameter;
import ai.attune.api.spi.OptimizerState;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Shape;
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
 * transcription of {@code transformers.optimization.Adafactor.step()} written for this test: a
 * matrix, a vector, a rank-3 stack of matrices (factored over its last two dims), a parameter with
 * no gradient at step 1 whose own step count then starts at 1, and one that never gets a gradient.
 * Covers the defaults, beta1 with weight decay, warmup_init, scale_parameter off, relative_step
 * off with a scheduled lr, and a tighter clip_threshold and slower decay_rate; checks parameters and
 * every state tensor after every step, on the SIMD and the scalar jvm paths, in f32 (within f32
 * rounding) and f64 (to 1e-12).
 */
class AdafactorReferenceTest {
    private static final int[][] SHAPES = {{3, 5}, {7}, {2, 3, 4}, {4, 2}, {1}};
    /** Index of the parameter that gets no gradient at step 1. */
    private static final int LATE = 3;
    /** Index of the parameter that never gets a gradient. */
    private static final int FROZEN = 4;
    private static final double[] LRS = {1e-2, 5e-3, 2e-2, 1e-3, 1e-2, 3e-3};

    static Stream<Arguments> cases() {
        List<Double> eps = List.of(1e-30, 1e-3);
        List<AdafactorConfig> configs = List.of(
                AdafactorConfig.DEFAULTS,
                new AdafactorConfig(eps, 1.0, -0.8, 0.9, 0.1, true, true, false),
                new AdafactorConfig(eps, 1.0, -0.8, null, 0.0, true, true, true),
                new AdafactorConfig(eps, 1.0, -0.8, 0.5, 0.0, false, true, false),
                new AdafactorConfig(eps, 1.0, -0.8, null, 0.01, false, false, false),
                new AdafactorConfig(List.of(1e-20, 0.5), 0.3, -0.5, 0.8, 0.2, true, false, false));
        List<Arguments> out = new ArrayList<>();
        for (AdafactorConfig c : configs) {
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
    void matchesTheDoubleReference(AdafactorConfig c, boolean scalarKernels, DType dtype) {
        Backend be = new JvmBackend(scalarKernels);
        SplittableRandom rng = new SplittableRandom(7);
        try (Scope job = Scope.open("job")) {
            List<Parameter> params = new ArrayList<>();
            List<Reference> refs = new ArrayList<>();
            for (int i = 0; i < SHAPES.length; i++) {
                // the late one starts near 0, its rms under eps2, so the floor of the parameter scale acts
                double[] init = values(rng, (int) Shape.numel(SHAPES[i]), i == LATE ? 1e-4 : 1.0, dtype);
                params.add(new Parameter("p" + i, Tensors.of(be, dtype, init, SHAPES[i]), true));
                refs.add(new Reference(init, SHAPES[i]));
            }
            OptimizerState state = new OptimizerState(job);
            AdafactorOptimizer adafactor = new AdafactorOptimizer();
            for (int step = 0; step < LRS.length; step++) {
                double lr = c.relativeStep() ? Double.NaN : LRS[step];
                for (int i = 0; i < params.size(); i++) {
                    Parameter p = params.get(i);
                    if (i == FROZEN || (i == LATE && step == 0)) {
                        p.value().setGrad(null);
                        continue;
                    }
                    // gradients of mixed scale, so the second moments rise and fall and clipping sometimes acts
                    double scale = step % 2 == 0 ? 1.0 : 0.05;
                    double[] g = values(rng, (int) Shape.numel(SHAPES[i]), scale, dtype);
                    p.value().setGrad(Tensors.of(be, dtype, g, SHAPES[i]));
                    refs.get(i).step(g, c, lr);
                }
                adafactor.step(params, state, c, lr);
                for (int i = 0; i < params.size(); i++) {
                    check(params.get(i), refs.get(i), state, c, dtype, "step " + (step + 1));
                }
            }
            assertEquals(LRS.length, state.step());
        }
    }

    private static void check(Parameter p, Reference ref, OptimizerState state, AdafactorConfig c, DType dtype, String when) {
        String where = p.name() + " after " + when;
        close(ref.param, Tensors.toDoubles(p.value()), dtype, where + ": param");
        if (ref.step == 0) {
            assertNull(state.find(p, AdafactorOptimizer.STEP), where + ": no state before the first gradient");
            return;
        }
        assertEquals(ref.step, Tensors.item(state.find(p, AdafactorOptimizer.STEP)), where + ": step");
        if (ref.factored) {
            close(ref.expAvgSqRow, Tensors.toDoubles(state.find(p, AdafactorOptimizer.EXP_AVG_SQ_ROW)), dtype, where + ": exp_avg_sq_row");
            close(ref.expAvgSqCol, Tensors.toDoubles(state.find(p, AdafactorOptimizer.EXP_AVG_SQ_COL)), dtype, where + ": exp_avg_sq_col");
            assertNull(state.find(p, AdafactorOptimizer.EXP_AVG_SQ), where + ": a factored parameter keeps no exp_avg_sq");
        } else {
            close(ref.expAvgSq, Tensors.toDoubles(state.find(p, AdafactorOptimizer.EXP_AVG_SQ)), dtype, where + ": exp_avg_sq");
            assertNull(state.find(p, AdafactorOptimizer.EXP_AVG_SQ_ROW), where + ": an unfactored parameter keeps no exp_avg_sq_row");
        }
        Tensor expAvg = state.find(p, AdafactorOptimizer.EXP_AVG);
        if (c.beta1() != null) {
            close(ref.expAvg, Tensors.toDoubles(expAvg), dtype, where + ": exp_avg");
        } else {
            assertNull(expAvg, where + ": exp_avg only with beta1");
        }
    }

    /**
     * f32: each op rounds to about 6e-8 relative and Adafactor divides by square roots of averages
     * of squares, which keeps relative errors relative; a few dozen ops a step over six steps stay
     * within 2e-6. The absolute floor covers moments that cancel to near 0 (exp_avg with beta1).
     */
    private static void close(double[] expected, double[] actual, DType dtype, String what) {
        double rel = dtype == DType.F64 ? 1e-12 : 2e-6;
        double abs = dtype == DType.F64 ? 1e-15 : 1e-9;
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

    /**
     * transformers' Adafactor.step() for one parameter, line by line, in double. Parameters of
     * rank >= 2 are [batch..., rows, cols] flattened to [b][i][j].
     */
    private static final class Reference {
        final double[] param;
        final boolean factored;
        final int batches;
        final int rows;
        final int cols;
        final double[] expAvg;
        final double[] expAvgSq;
        final double[] expAvgSqRow;
        final double[] expAvgSqCol;
        int step;

        Reference(double[] init, int[] shape) {
            param = init.clone();
            factored = shape.length >= 2;
            rows = factored ? shape[shape.length - 2] : 1;
            cols = factored ? shape[shape.length - 1] : init.length;
            batches = init.length / (rows * cols);
            expAvg = new double[init.length];
            expAvgSq = new double[init.length];
            expAvgSqRow = new double[batches * rows];
            expAvgSqCol = new double[batches * cols];
        }

        void step(double[] grad, AdafactorConfig group, double groupLr) {
            int n = param.length;
            // state["step"] += 1; state["RMS"] = _rms(p); lr = _get_lr(group, state)
            step++;
            double rms = rms(param);
            double relStepSz = groupLr;
            if (group.relativeStep()) {
                double minStep = group.warmupInit() ? 1e-6 * step : 1e-2;
                relStepSz = Math.min(minStep, 1.0 / Math.sqrt(step));
            }
            double paramScale = 1.0;
            if (group.scaleParameter()) {
                paramScale = Math.max(group.eps().get(1), rms);
            }
            double lr = paramScale * relStepSz;

            double beta2t = 1.0 - Math.pow(step, group.decayRate());
            double[] update = new double[n];
            for (int k = 0; k < n; k++) {
                update[k] = grad[k] * grad[k] + group.eps().get(0);
            }
            if (factored) {
                // exp_avg_sq_row.mul_(beta2t).add_(update.mean(dim=-1), alpha=1 - beta2t), and the same over dim -2 for col
                for (int b = 0; b < batches; b++) {
                    for (int i = 0; i < rows; i++) {
                        double mean = 0;
                        for (int j = 0; j < cols; j++) {
                            mean += update[(b * rows + i) * cols + j];
                        }
                        mean /= cols;
                        expAvgSqRow[b * rows + i] = expAvgSqRow[b * rows + i] * beta2t + (1.0 - beta2t) * mean;
                    }
                    for (int j = 0; j < cols; j++) {
                        double mean = 0;
                        for (int i = 0; i < rows; i++) {
                            mean += update[(b * rows + i) * cols + j];
                        }
                        mean /= rows;
                        expAvgSqCol[b * cols + j] = expAvgSqCol[b * cols + j] * beta2t + (1.0 - beta2t) * mean;
                    }
                }
                // _approx_sq_grad: r = rsqrt(row / row.mean(-1)), c = rsqrt(col); update = r * c * grad
                for (int b = 0; b < batches; b++) {
                    double rowMean = 0;
                    for (int i = 0; i < rows; i++) {
                        rowMean += expAvgSqRow[b * rows + i];
                    }
                    rowMean /= rows;
                    for (int i = 0; i < rows; i++) {
                        double r = 1.0 / Math.sqrt(expAvgSqRow[b * rows + i] / rowMean);
                        for (int j = 0; j < cols; j++) {
                            double c = 1.0 / Math.sqrt(expAvgSqCol[b * cols + j]);
                            int k = (b * rows + i) * cols + j;
                            update[k] = r * c * grad[k];
                        }
                    }
                }
            } else {
                for (int k = 0; k < n; k++) {
                    expAvgSq[k] = expAvgSq[k] * beta2t + (1.0 - beta2t) * update[k];
                    update[k] = 1.0 / Math.sqrt(expAvgSq[k]) * grad[k];
                }
            }
            // update.div_((_rms(update) / clip_threshold).clamp_(min=1.0)); update.mul_(lr)
            double denom = Math.max(rms(update) / group.clipThreshold(), 1.0);
            for (int k = 0; k < n; k++) {
                update[k] = update[k] / denom * lr;
            }
            if (group.beta1() != null) {
                for (int k = 0; k < n; k++) {
                    expAvg[k] = expAvg[k] * group.beta1() + (1 - group.beta1()) * update[k];
                    update[k] = expAvg[k];
                }
            }
            if (group.weightDecay() != 0) {
                for (int k = 0; k < n; k++) {
                    param[k] += param[k] * (-group.weightDecay() * lr);
                }
            }
            for (int k = 0; k < n; k++) {
                param[k] -= update[k];
            }
        }

        static double rms(double[] x) {
            double ss = 0;
            for (double v : x) {
                ss += v * v;
            }
            return Math.sqrt(ss) / Math.sqrt(x.length);
        }
    }
}
