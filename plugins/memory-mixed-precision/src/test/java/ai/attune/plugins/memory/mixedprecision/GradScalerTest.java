package ai.attune.plugins.memory.mixedprecision;

import ai.attune.api.nn.Parameter;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;
import ai.attune.kernels.jvm.JvmBackend;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** torch.amp.GradScaler's bookkeeping, worked by hand. */
class GradScalerTest {
    private static final JvmBackend BE = new JvmBackend();

    @Test
    void backsOffOnOverflowAndGrowsAfterTheIntervalOfCleanSteps() {
        GradScaler s = new GradScaler(new MixedPrecisionConfig("fp16", 8.0, 2.0, 0.5, 3));
        // clean, clean, overflow (8 -> 4, tracker reset), clean x3 (-> 8), clean
        double[] expected = {8, 8, 4, 4, 4, 8, 8};
        boolean[] stepped = {true, true, false, true, true, true, true};
        for (int i = 0; i < stepped.length; i++) {
            s.update(stepped[i]);
            assertEquals(expected[i], s.scale(), "after update " + (i + 1));
        }
        assertEquals(Map.of("scale", 8.0, "growth_tracker", 1.0), s.state());
        GradScaler resumed = new GradScaler(new MixedPrecisionConfig("fp16", 8.0, 2.0, 0.5, 3));
        resumed.restore(s.state());
        resumed.update(true);
        resumed.update(true);
        assertEquals(16.0, resumed.scale(), "the growth counter survives a resume");
    }

    @Test
    void unscaleDividesTheGradientsAndReportsAnOverflow() {
        try (Scope scope = Scope.open("t")) {
            GradScaler s = new GradScaler(new MixedPrecisionConfig("fp16", 4.0, 2.0, 0.5, 2000));
            Tensor w = Tensors.of(BE, DType.F32, new double[] {1, 2}, 2).requiresGrad(true);
            Parameter p = new Parameter("w", w, true);
            ai.attune.api.autograd.Autograd.backward(ai.attune.api.autograd.Ops.sum(s.scaleLoss(ai.attune.api.autograd.Ops.mul(w, w))));
            // d(4 * (w1^2 + w2^2)) = 8 w; unscaled: 2 w
            assertTrue(s.unscale(List.of(p)));
            assertArrayEquals(new double[] {2, 4}, Tensors.toDoubles(w.grad()), 0.0);
            BE.fill(w.grad(), Double.POSITIVE_INFINITY);
            assertFalse(s.unscale(List.of(p)));
        }
    }

    @Test
    void keysLeftOutKeepGradScalersDefaults() {
        MixedPrecisionConfig c = new com.fasterxml.jackson.databind.ObjectMapper().convertValue(Map.of("dtype", "fp16"), MixedPrecisionConfig.class);
        assertEquals(new MixedPrecisionConfig("fp16", 65536.0, 2.0, 0.5, 2000), c);
    }
}
