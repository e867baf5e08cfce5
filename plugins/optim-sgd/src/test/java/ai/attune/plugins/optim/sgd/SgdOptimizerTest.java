package ai.attune.plugins.optim.sgd;

import ai.attune.api.nn.Parameter;
import ai.attune.api.spi.OptimizerState;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;
import ai.attune.kernels.jvm.JvmBackend;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/** Goldens worked by hand from torch.optim.SGD's update rule, with a constant gradient. */
class SgdOptimizerTest {
    private final Backend be = new JvmBackend();

    private double[] run(SgdConfig config, double lr, int steps, double p0, double g) {
        try (Scope job = Scope.open("job")) {
            Parameter p = new Parameter("w", Tensors.of(be, new float[] {(float) p0}, 1), true);
            p.value().setGrad(Tensors.of(be, new float[] {(float) g}, 1));
            OptimizerState state = new OptimizerState(job);
            double[] trace = new double[steps];
            SgdOptimizer sgd = new SgdOptimizer();
            for (int s = 0; s < steps; s++) {
                sgd.step(List.of(p), state, config, lr);
                trace[s] = Tensors.item(p.value());
            }
            return trace;
        }
    }

    @Test
    void plainStepIsPMinusLrG() {
        // p = 1 - 0.1 * 0.5 = 0.95, then 0.90
        assertArrayEquals(new double[] {0.95, 0.90}, run(SgdConfig.DEFAULTS, 0.1, 2, 1.0, 0.5), 1e-6);
    }

    @Test
    void momentumBufferStartsAsTheGradient() {
        // buf: 0.5, 0.9*0.5+0.5 = 0.95, 0.9*0.95+0.5 = 1.355; p: 0.95, 0.855, 0.7195
        SgdConfig c = new SgdConfig(0.9, 0, 0, false, false);
        assertArrayEquals(new double[] {0.95, 0.855, 0.7195}, run(c, 0.1, 3, 1.0, 0.5), 1e-6);
    }

    @Test
    void dampeningScalesOnlyLaterGradients() {
        // buf: 0.5, then 0.9*0.5 + 0.5*0.5 = 0.7; p: 0.95, 0.88
        SgdConfig c = new SgdConfig(0.9, 0.5, 0, false, false);
        assertArrayEquals(new double[] {0.95, 0.88}, run(c, 0.1, 2, 1.0, 0.5), 1e-6);
    }

    @Test
    void nesterovLooksAhead() {
        // step 1: buf 0.5, d = 0.5 + 0.9*0.5 = 0.95 -> p 0.905; step 2: buf 0.95, d = 0.5 + 0.855 = 1.355 -> p 0.7695
        SgdConfig c = new SgdConfig(0.9, 0, 0, true, false);
        assertArrayEquals(new double[] {0.905, 0.7695}, run(c, 0.1, 2, 1.0, 0.5), 1e-6);
    }

    @Test
    void weightDecayIsAddedToTheGradient() {
        // d = 0.5 + 0.1*1 = 0.6 -> p 0.94; d = 0.5 + 0.094 = 0.594 -> p 0.8806
        SgdConfig c = new SgdConfig(0, 0, 0.1, false, false);
        assertArrayEquals(new double[] {0.94, 0.8806}, run(c, 0.1, 2, 1.0, 0.5), 1e-6);
    }

    @Test
    void maximizeAscends() {
        assertArrayEquals(new double[] {1.05}, run(new SgdConfig(0, 0, 0, false, true), 0.1, 1, 1.0, 0.5), 1e-6);
    }

    @Test
    void parametersWithoutGradientAreLeftAlone() {
        try (Scope job = Scope.open("job")) {
            Tensor w = Tensors.of(be, new float[] {3f, 4f}, 2);
            Parameter p = new Parameter("w", w, true);
            new SgdOptimizer().step(List.of(p), new OptimizerState(job), SgdConfig.DEFAULTS, 0.1);
            assertArrayEquals(new float[] {3f, 4f}, Tensors.toFloats(p.value()));
        }
    }
}
