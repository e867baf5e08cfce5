package ai.attune.plugins.memory.mixedprecision;

import ai.attune.api.autograd.Ops;
import ai.attune.api.nn.Parameter;
import ai.attune.api.optim.GradClip;
import ai.attune.api.tensor.ScalarOp;
import ai.attune.api.tensor.Tensor;

import java.util.List;
import java.util.Map;

/**
 * {@code torch.amp.GradScaler}: dynamic loss scaling for f16, whose 5-bit exponent underflows
 * small gradients. The loss is multiplied by the scale before backward; the gradients are divided
 * by it before clipping; a step whose gradients hold an infinity or NaN is skipped and the scale
 * halved; after {@code growth_interval} clean steps in a row it doubles.
 */
final class GradScaler {
    private final MixedPrecisionConfig config;
    private double scale;
    private int cleanSteps;

    GradScaler(MixedPrecisionConfig config) {
        this.config = config;
        this.scale = config.initScale();
    }

    double scale() {
        return scale;
    }

    Tensor scaleLoss(Tensor loss) {
        return Ops.mulScalar(loss, scale);
    }

    /** Divides every gradient by the scale in place; false when any is not finite. */
    boolean unscale(List<Parameter> params) {
        double inverse = 1.0 / scale;
        for (Parameter p : params) {
            Tensor g = p.grad();
            if (g != null) {
                g.backend().scalar(ScalarOp.MUL, g, inverse, g);
            }
        }
        return Double.isFinite(GradClip.gradNorm(params));
    }

    /** {@code update()}: back off after an overflow, grow after a run of clean steps. */
    void update(boolean stepped) {
        if (!stepped) {
            scale *= config.backoffFactor();
            cleanSteps = 0;
        } else if (++cleanSteps == config.growthInterval()) {
            scale *= config.growthFactor();
            cleanSteps = 0;
        }
    }

    Map<String, Double> state() {
        return Map.of("scale", scale, "growth_tracker", (double) cleanSteps);
    }

    void restore(Map<String, Double> state) {
        scale = state.getOrDefault("scale", config.initScale());
        cleanSteps = state.getOrDefault("growth_tracker", 0.0).intValue();
    }
}
