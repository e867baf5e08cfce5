package ai.attune.plugins.optim.adafactor;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;

import java.util.List;

/**
 * {@code transformers.optimization.Adafactor}'s options, with its key names and defaults. The
 * learning rate is not here: it is the recipe's {@code train.optimizer.lr}, which must be null
 * under {@code relative_step} (transformers refuses a manual lr there too) and is required without it.
 *
 * @param eps            (eps1, eps2): added to the squared gradient, and the floor of a parameter's RMS when it scales the step
 * @param clipThreshold  the update is divided by {@code max(1, rms(update) / clip_threshold)}
 * @param decayRate      the second-moment decay at step t is {@code beta2t = 1 - t^decay_rate}
 * @param beta1          decay of the first moment (the mean of past updates); null keeps none, which saves its memory
 * @param weightDecay    {@code p -= p * weight_decay * step_size}, before the update is subtracted
 * @param scaleParameter multiply the step size by {@code max(eps2, rms(p))}
 * @param relativeStep   step size {@code min(1e-2, 1/sqrt(t))} computed per step instead of the recipe's lr
 * @param warmupInit     with relative_step: {@code min(1e-6 * t, 1/sqrt(t))}, a warm-up from 0
 */
public record AdafactorConfig(
        @JsonProperty("eps") List<Double> eps,
        @JsonProperty("clip_threshold") double clipThreshold,
        @JsonProperty("decay_rate") double decayRate,
        @JsonProperty("beta1") Double beta1,
        @JsonProperty("weight_decay") double weightDecay,
        @JsonProperty("scale_parameter") boolean scaleParameter,
        @JsonProperty("relative_step") boolean relativeStep,
        @JsonProperty("warmup_init") boolean warmupInit) {

    /** transformers' defaults: a relative, parameter-scaled step size with no first moment. */
    public static final AdafactorConfig DEFAULTS = new AdafactorConfig(List.of(1e-30, 1e-3), 1.0, -0.8, null, 0.0, true, true, false);

    public AdafactorConfig {
        if (eps == null || eps.size() != 2) {
            throw new IllegalArgumentException("eps must be two numbers [eps1, eps2] (for the squared gradient and the parameter scale), got " + eps);
        }
        for (int i = 0; i < 2; i++) {
            Double e = eps.get(i);
            if (e == null || !(e >= 0) || e.isInfinite()) {
                throw new IllegalArgumentException("eps[" + i + "] must be a finite number >= 0, got " + e);
            }
        }
        eps = List.copyOf(eps);
        if (!(clipThreshold > 0) || Double.isInfinite(clipThreshold)) {
            throw new IllegalArgumentException("clip_threshold must be a finite number > 0, got " + clipThreshold);
        }
        // beta2t = 1 - t^decay_rate lies in [0, 1) only for decay_rate <= 0
        if (!(decayRate <= 0) || Double.isInfinite(decayRate)) {
            throw new IllegalArgumentException("decay_rate must be a finite number <= 0 (beta2 at step t is 1 - t^decay_rate), got " + decayRate);
        }
        if (beta1 != null && !(beta1 >= 0 && beta1 < 1)) {
            throw new IllegalArgumentException("beta1 must be in [0, 1), or null for no first moment, got " + beta1);
        }
        if (!(weightDecay >= 0) || Double.isInfinite(weightDecay)) {
            throw new IllegalArgumentException("weight_decay must be a finite number >= 0, got " + weightDecay);
        }
        if (warmupInit && !relativeStep) {
            // transformers: "`warmup_init=True` requires `relative_step=True`"
            throw new IllegalArgumentException("warmup_init: true needs relative_step: true (it warms up the relative step size)");
        }
    }

    /**
     * Binds a recipe's {@code optimizer:} keys; a key left out keeps transformers' default rather
     * than Java's 0 or false, which would silently turn off clipping or the relative step.
     */
    @JsonCreator
    static AdafactorConfig fromJson(
            @JsonProperty("eps") List<Double> eps,
            @JsonProperty("clip_threshold") Double clipThreshold,
            @JsonProperty("decay_rate") Double decayRate,
            @JsonProperty("beta1") Double beta1,
            @JsonProperty("weight_decay") Double weightDecay,
            @JsonProperty("scale_parameter") Boolean scaleParameter,
            @JsonProperty("relative_step") Boolean relativeStep,
            @JsonProperty("warmup_init") Boolean warmupInit) {
        return new AdafactorConfig(
                eps == null ? DEFAULTS.eps : eps,
                clipThreshold == null ? DEFAULTS.clipThreshold : clipThreshold,
                decayRate == null ? DEFAULTS.decayRate : decayRate,
                beta1, // null is transformers' default: no first moment
                weightDecay == null ? DEFAULTS.weightDecay : weightDecay,
                scaleParameter == null ? DEFAULTS.scaleParameter : scaleParameter,
                relativeStep == null ? DEFAULTS.relativeStep : relativeStep,
                warmupInit == null ? DEFAULTS.warmupInit : warmupInit);
    }

    /** eps1, added to the squared gradient before it is averaged. */
    public double eps1() {
        return eps.get(0);
    }

    /** eps2, the smallest parameter RMS the step size is scaled by. */
    public double eps2() {
        return eps.get(1);
    }
}
