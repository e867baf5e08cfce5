package ai.attune.plugins.optim.adamw;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;

import java.util.List;

/**
 * {@code torch.optim.AdamW}'s options, with its key names and defaults. The learning rate is not
 * here: the schedule gives it per step.
 *
 * @param betas       (beta1, beta2): decay rates of the first and second moment averages
 * @param eps         added to the denominator for numerical stability
 * @param weightDecay decoupled weight decay: {@code p *= 1 - lr * weight_decay} before the Adam update
 * @param amsgrad     use the running maximum of the second moment (Reddi et al. 2018)
 * @param maximize    ascend the objective instead of descending
 */
public record AdamWConfig(
        @JsonProperty("betas") List<Double> betas,
        @JsonProperty("eps") double eps,
        @JsonProperty("weight_decay") double weightDecay,
        @JsonProperty("amsgrad") boolean amsgrad,
        @JsonProperty("maximize") boolean maximize) {

    /** torch's defaults; weight_decay 0.01 is AdamW's (Adam's is 0). */
    public static final AdamWConfig DEFAULTS = new AdamWConfig(List.of(0.9, 0.999), 1e-8, 0.01, false, false);

    public AdamWConfig {
        if (betas == null || betas.size() != 2) {
            throw new IllegalArgumentException("betas must be two numbers [beta1, beta2], got " + betas);
        }
        for (int i = 0; i < 2; i++) {
            Double b = betas.get(i);
            if (b == null || !(b >= 0 && b < 1)) {
                throw new IllegalArgumentException("betas[" + i + "] must be in [0, 1), got " + b);
            }
        }
        betas = List.copyOf(betas);
        if (!(eps >= 0)) {
            throw new IllegalArgumentException("eps must be >= 0, got " + eps);
        }
        if (!(weightDecay >= 0)) {
            throw new IllegalArgumentException("weight_decay must be >= 0, got " + weightDecay);
        }
    }

    /**
     * Binds a recipe's {@code optimizer:} keys; a key left out keeps torch's default rather than
     * Java's 0, which would silently turn off eps or weight decay.
     */
    @JsonCreator
    static AdamWConfig fromJson(
            @JsonProperty("betas") List<Double> betas,
            @JsonProperty("eps") Double eps,
            @JsonProperty("weight_decay") Double weightDecay,
            @JsonProperty("amsgrad") Boolean amsgrad,
            @JsonProperty("maximize") Boolean maximize) {
        return new AdamWConfig(
                betas == null ? DEFAULTS.betas : betas,
                eps == null ? DEFAULTS.eps : eps,
                weightDecay == null ? DEFAULTS.weightDecay : weightDecay,
                amsgrad == null ? DEFAULTS.amsgrad : amsgrad,
                maximize == null ? DEFAULTS.maximize : maximize);
    }

    public double beta1() {
        return betas.get(0);
    }

    public double beta2() {
        return betas.get(1);
    }
}
