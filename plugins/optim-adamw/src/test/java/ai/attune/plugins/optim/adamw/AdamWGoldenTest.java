package ai.attune.plugins.optim.adamw;

import ai.attune.api.nn.Parameter;
import ai.attune.api.spi.OptimizerState;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensors;
import ai.attune.kernels.jvm.JvmBackend;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/**
 * One f32 parameter over three steps, worked by hand from torch.optim.AdamW's update rule (the
 * closed forms in the comments were checked on a calculator; f32 rounding is within 1e-6).
 */
class AdamWGoldenTest {
    private static final double TOL = 1e-6;
    private final Backend be = new JvmBackend();

    private record Run(double[] trace, double expAvg, double expAvgSq, double maxExpAvgSq, double step) {}

    private Run run(AdamWConfig config, double lr, double p0, double... grads) {
        try (Scope job = Scope.open("job")) {
            Parameter p = new Parameter("w", Tensors.of(be, new float[] {(float) p0}, 1), true);
            OptimizerState state = new OptimizerState(job);
            AdamWOptimizer adamw = new AdamWOptimizer();
            double[] trace = new double[grads.length];
            for (int s = 0; s < grads.length; s++) {
                p.value().setGrad(Tensors.of(be, new float[] {(float) grads[s]}, 1));
                adamw.step(List.of(p), state, config, lr);
                trace[s] = Tensors.item(p.value());
            }
            var max = state.find(p, AdamWOptimizer.MAX_EXP_AVG_SQ);
            return new Run(trace,
                    Tensors.item(state.find(p, AdamWOptimizer.EXP_AVG)),
                    Tensors.item(state.find(p, AdamWOptimizer.EXP_AVG_SQ)),
                    max == null ? Double.NaN : Tensors.item(max),
                    Tensors.item(state.find(p, AdamWOptimizer.STEP)));
        }
    }

    @Test
    void constantGradientStepsByLrAfterDecay() {
        // Defaults (betas 0.9, 0.999, eps 1e-8, weight_decay 0.01), lr 0.1, p0 1, g = 0.5 each step.
        // With a constant g the bias corrections make m/bc1 = g and v/bc2 = g^2 exactly, so each
        // update is lr * g / (|g| + eps) = 0.1 * 0.5 / 0.50000001 = 0.099999998, after p *= 1 - 0.1 * 0.01:
        //   p1 = 1 * 0.999 - 0.099999998                = 0.899000002
        //   p2 = 0.899000002 * 0.999 - 0.099999998      = 0.798101004
        //   p3 = 0.798101004 * 0.999 - 0.099999998      = 0.697302905
        // State after step 3: m = (1 - 0.9^3) * 0.5 = 0.1355, v = (1 - 0.999^3) * 0.25 = 0.00074925025.
        Run r = run(AdamWConfig.DEFAULTS, 0.1, 1.0, 0.5, 0.5, 0.5);
        assertArrayEquals(new double[] {0.899000002, 0.798101004, 0.697302905}, r.trace(), TOL);
        assertEquals(0.1355, r.expAvg(), TOL);
        assertEquals(0.00074925025, r.expAvgSq(), 1e-10);
        assertEquals(3.0, r.step());
        assertEquals(Double.NaN, r.maxExpAvgSq(), "no max_exp_avg_sq without amsgrad");
    }

    // betas (0.5, 0.75), eps 0, no decay, lr 0.1, p0 1, g = 1, 0.25, -0.5. beta1 = 0.5 puts lerp's
    // weight 1 - beta1 at 0.5, the second branch of torch's lerp.
    //   t=1: m = 0.5,    v = 0.25;                        bc1 = 0.5,   bc2 = 0.25
    //        update = (0.1 / 0.5) * 0.5 / sqrt(0.25 / 0.25) = 0.1                    -> p 0.9
    //   t=2: m = 0.5*0.5 + 0.5*0.25 = 0.375, v = 0.75*0.25 + 0.25*0.0625 = 0.203125; bc1 = 0.75, bc2 = 0.4375
    //        update = (0.1 / 0.75) * 0.375 / sqrt(0.203125 / 0.4375) = 0.05 * sqrt(28/13) = 0.0733799386
    //   t=3: m = 0.5*0.375 - 0.5*0.5 = -0.0625, v = 0.75*0.203125 + 0.25*0.25 = 0.21484375; bc1 = 0.875, bc2 = 0.578125
    //        update = (0.1 / 0.875) * -0.0625 / sqrt(55/148) = -(1/140) * sqrt(148/55) = -0.0117171362
    // With amsgrad v drops below its step-1 value 0.25, so the max stays 0.25:
    //   t=2: update = 0.05 / sqrt(0.25 / 0.4375) = 0.05 * sqrt(7/4) = 0.0661437828
    //   t=3: update = -(1/140) / sqrt(0.25 / 0.578125) = -sqrt(37) / 560 = -0.0108620759
    private static final AdamWConfig SMALL_BETAS = new AdamWConfig(List.of(0.5, 0.75), 0, 0, false, false);

    @Test
    void varyingGradientFollowsTheBiasCorrectedMoments() {
        Run r = run(SMALL_BETAS, 0.1, 1.0, 1, 0.25, -0.5);
        double p2 = 0.9 - 0.05 * Math.sqrt(28.0 / 13);
        double p3 = p2 + Math.sqrt(148.0 / 55) / 140;
        assertArrayEquals(new double[] {0.9, p2, p3}, r.trace(), TOL);
        assertEquals(0.826620061, p2, 1e-9);
        assertEquals(0.838337198, p3, 1e-9);
        assertEquals(-0.0625, r.expAvg(), TOL);
        assertEquals(0.21484375, r.expAvgSq(), TOL);
    }

    @Test
    void amsgradDividesByTheLargestSecondMoment() {
        AdamWConfig ams = new AdamWConfig(List.of(0.5, 0.75), 0, 0, true, false);
        Run r = run(ams, 0.1, 1.0, 1, 0.25, -0.5);
        double p2 = 0.9 - 0.05 * Math.sqrt(7.0 / 4);
        double p3 = p2 + Math.sqrt(37) / 560;
        assertArrayEquals(new double[] {0.9, p2, p3}, r.trace(), TOL);
        assertEquals(0.833856217, p2, 1e-9);
        assertEquals(0.844718293, p3, 1e-9);
        assertEquals(0.25, r.maxExpAvgSq(), TOL);
        assertEquals(0.21484375, r.expAvgSq(), TOL);
        assertEquals(3.0, r.step());
    }

    @Test
    void maximizeMirrorsTheUpdate() {
        // maximize negates g first: the moments flip sign, the second moment does not, and p
        // moves by +0.1, -0.0733799386, +0.0117171362 instead.
        AdamWConfig up = new AdamWConfig(List.of(0.5, 0.75), 0, 0, false, true);
        Run r = run(up, 0.1, 1.0, 1, 0.25, -0.5);
        double p2 = 1.1 + 0.05 * Math.sqrt(28.0 / 13);
        double p3 = p2 - Math.sqrt(148.0 / 55) / 140;
        assertArrayEquals(new double[] {1.1, p2, p3}, r.trace(), TOL);
        assertEquals(0.0625, r.expAvg(), TOL);
        assertEquals(0.21484375, r.expAvgSq(), TOL);
    }

    @Test
    void weightDecayActsEvenWithAZeroGradient() {
        // g = 0: m = v = 0 and the Adam term is 0 / (0 + eps) = 0, so only p *= 1 - lr * wd acts:
        // 2 * (1 - 0.1 * 0.5) = 1.9, then 1.805 (torch decays every parameter that has a grad).
        AdamWConfig decay = new AdamWConfig(List.of(0.9, 0.999), 1e-8, 0.5, false, false);
        assertArrayEquals(new double[] {1.9, 1.805}, run(decay, 0.1, 2.0, 0, 0).trace(), TOL);
    }

    @Test
    void parametersWithoutGradientAreLeftAloneAndGetNoState() {
        try (Scope job = Scope.open("job")) {
            Parameter p = new Parameter("w", Tensors.of(be, new float[] {3f, 4f}, 2), true);
            OptimizerState state = new OptimizerState(job);
            new AdamWOptimizer().step(List.of(p), state, AdamWConfig.DEFAULTS, 0.1);
            assertArrayEquals(new float[] {3f, 4f}, Tensors.toFloats(p.value()));
            assertNull(state.find(p, AdamWOptimizer.EXP_AVG));
            assertNull(state.find(p, AdamWOptimizer.STEP));
            assertEquals(1, state.step(), "the optimizer's own step counts every call");
        }
    }
}
