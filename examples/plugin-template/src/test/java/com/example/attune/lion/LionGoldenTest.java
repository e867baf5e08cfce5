package com.example.attune.lion;

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

/**
 * Two steps on a four-element parameter, worked by hand from the update in the paper's Program 1
 * (and lion-pytorch's update_fn); the arithmetic is in the comments. f32 rounding is within 1e-6.
 */
class LionGoldenTest {
    private static final double TOL = 1e-6;
    private final Backend be = new JvmBackend();

    private record Run(double[] afterStep1, double[] afterStep2, double[] expAvg) {}

    private Run run(LionConfig config, double lr, DType dtype, double[] p0, double[] g1, double[] g2) {
        try (Scope job = Scope.open("job")) {
            Parameter p = new Parameter("w", Tensors.of(be, dtype, p0, p0.length), true);
            OptimizerState state = new OptimizerState(job);
            LionOptimizer lion = new LionOptimizer();
            p.value().setGrad(Tensors.of(be, dtype, g1, g1.length));
            lion.step(List.of(p), state, config, lr);
            double[] first = Tensors.toDoubles(p.value());
            p.value().setGrad(Tensors.of(be, dtype, g2, g2.length));
            lion.step(List.of(p), state, config, lr);
            assertEquals(2, state.step());
            return new Run(first, Tensors.toDoubles(p.value()), Tensors.toDoubles(state.find(p, LionOptimizer.EXP_AVG)));
        }
    }

    // Defaults (betas 0.9, 0.99; weight_decay 0), lr 0.1.
    //   p0 = [1, -2, 0.5, 3]
    // Step 1, g1 = [0.5, -1, 0, 2], m0 = 0:
    //   c1 = 0.9 * 0 + 0.1 * g1         = [0.05, -0.1, 0, 0.2]   sign [1, -1, 0, 1] (sign(0) = 0: no move)
    //   p1 = p0 - 0.1 * sign(c1)        = [0.9, -1.9, 0.5, 2.9]
    //   m1 = 0.99 * 0 + 0.01 * g1       = [0.005, -0.01, 0, 0.02]
    // Step 2, g2 = [0.25, 0.04, -0.3, -0.1]:
    //   c2 = 0.9 * m1 + 0.1 * g2
    //      = [0.0045 + 0.025, -0.009 + 0.004, 0 - 0.03, 0.018 - 0.01]
    //      = [0.0295, -0.005, -0.03, 0.008]                      sign [1, -1, -1, 1]
    //   (elements 2 and 4: the momentum outvotes this step's gradient, so p moves against g2)
    //   p2 = p1 - 0.1 * sign(c2)        = [0.8, -1.8, 0.6, 2.8]
    //   m2 = 0.99 * m1 + 0.01 * g2
    //      = [0.00495 + 0.0025, -0.0099 + 0.0004, 0 - 0.003, 0.0198 - 0.001]
    //      = [0.00745, -0.0095, -0.003, 0.0188]
    private static final double[] P0 = {1, -2, 0.5, 3};
    private static final double[] G1 = {0.5, -1, 0, 2};
    private static final double[] G2 = {0.25, 0.04, -0.3, -0.1};

    @Test
    void twoStepsWithTheDefaults() {
        for (DType dtype : List.of(DType.F32, DType.F64)) {
            Run r = run(LionConfig.DEFAULTS, 0.1, dtype, P0, G1, G2);
            assertArrayEquals(new double[] {0.9, -1.9, 0.5, 2.9}, r.afterStep1(), TOL, dtype.toString());
            assertArrayEquals(new double[] {0.8, -1.8, 0.6, 2.8}, r.afterStep2(), TOL, dtype.toString());
            assertArrayEquals(new double[] {0.00745, -0.0095, -0.003, 0.0188}, r.expAvg(), 1e-9, dtype.toString());
        }
    }

    // weight_decay 0.5, lr 0.1: every step first scales p by 1 - 0.1 * 0.5 = 0.95; same gradients,
    // so the same signs as above ([1, -1, 0, 1], then [1, -1, -1, 1]).
    //   p1 = 0.95 * [1, -2, 0.5, 3] - 0.1 * [1, -1, 0, 1]
    //      = [0.95 - 0.1, -1.9 + 0.1, 0.475, 2.85 - 0.1]       = [0.85, -1.8, 0.475, 2.75]
    //   p2 = 0.95 * p1 - 0.1 * [1, -1, -1, 1]
    //      = [0.8075 - 0.1, -1.71 + 0.1, 0.45125 + 0.1, 2.6125 - 0.1] = [0.7075, -1.61, 0.55125, 2.5125]
    // The decay does not touch the momentum: m2 is as above.
    @Test
    void weightDecayShrinksTheWeightsBeforeTheSignStep() {
        Run r = run(new LionConfig(List.of(0.9, 0.99), 0.5), 0.1, DType.F32, P0, G1, G2);
        assertArrayEquals(new double[] {0.85, -1.8, 0.475, 2.75}, r.afterStep1(), TOL);
        assertArrayEquals(new double[] {0.7075, -1.61, 0.55125, 2.5125}, r.afterStep2(), TOL);
        assertArrayEquals(new double[] {0.00745, -0.0095, -0.003, 0.0188}, r.expAvg(), 1e-9);
    }

    // betas (0, 0): c = g and m = g, so Lion is signSGD: p moves by -lr * sign(g) each step.
    //   p1 = [1, -2, 0.5, 3] - 0.1 * [1, -1, 0, 1]  = [0.9, -1.9, 0.5, 2.9]
    //   p2 = p1 - 0.1 * sign(g2) = p1 - 0.1 * [1, 1, -1, -1] = [0.8, -2.0, 0.6, 3.0]; m2 = g2
    @Test
    void zeroBetasIsSignSgd() {
        Run r = run(new LionConfig(List.of(0.0, 0.0), 0), 0.1, DType.F32, P0, G1, G2);
        assertArrayEquals(new double[] {0.8, -2.0, 0.6, 3.0}, r.afterStep2(), TOL);
        assertArrayEquals(G2, r.expAvg(), 1e-7);
    }

    @Test
    void parametersWithoutGradientAreLeftAloneAndGetNoState() {
        try (Scope job = Scope.open("job")) {
            Parameter p = new Parameter("w", Tensors.of(be, new float[] {3f, 4f}, 2), true);
            OptimizerState state = new OptimizerState(job);
            new LionOptimizer().step(List.of(p), state, new LionConfig(List.of(0.9, 0.99), 0.5), 0.1);
            assertArrayEquals(new float[] {3f, 4f}, Tensors.toFloats(p.value()), "no gradient, no decay either");
            assertNull(state.find(p, LionOptimizer.EXP_AVG));
            assertEquals(1, state.step(), "the optimizer's own step counts every call");
        }
    }
}
