package ai.attune.plugins.optim.adamw8bit;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;

import java.util.List;

/**
 * {@code bitsandbytes.optim.AdamW8bit}'s options, with its key names and defaults. The learning
 * rate is not here: the schedule gives it per step. bitsandbytes' {@code optim_bits} (always 8
 * here) and {@code is_paged} (the optimizer's name says it) are not keys; {@code args} and the
 * per-parameter overrides of its GlobalOptimManager have no counterpart.
 *
 * @param betas       (beta1, beta2): decay rates of the first and second moment averages
 * @param eps         added to the denominator, scaled by {@code sqrt(1 - beta2^t)} as in the kernel
 * @param weightDecay decoupled weight decay: {@code p *= 1 - lr * weight_decay}, after the Adam update as bitsandbytes does it
 * @param amsgrad     accepted for the signature's sake; bitsandbytes refuses {@code true} and so does this
 * @param min8bitSize tensors with fewer elements keep 32-bit state (bitsandbytes' {@code min_8bit_size})
 */
public record AdamW8bitConfig(
        @JsonProperty("betas") List<Double> betas,
        @JsonProperty("eps") double eps,
        @JsonProperty("weight_decay") double weightDecay,
        @JsonProperty("amsgrad") boolean amsgrad,
        @JsonProperty("min_8bit_size") long min8bitSize) {

    /** bitsandbytes' AdamW8bit defaults. */
    public static final AdamW8bitConfig DEFAULTS = new AdamW8bitConfig(List.of(0.9, 0.999), 1e-8, 1e-2, false, 4096);

    public AdamW8bitConfig {
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
        if (!(eps >= 0) || Double.isInfinite(eps)) {
            throw new IllegalArgumentException("eps must be a finite number >= 0, got " + eps);
        }
        if (!(weightDecay >= 0) || Double.isInfinite(weightDecay)) {
            throw new IllegalArgumentException("weight_decay must be a finite number >= 0, got " + weightDecay);
        }
        if (amsgrad) {
            throw new IllegalArgumentException("amsgrad must be false: bitsandbytes' 8-bit AdamW has no AMSGrad; use optimizer adamw for it");
        }
        if (min8bitSize < 0) {
            throw new IllegalArgumentException("min_8bit_size must be >= 0, got " + min8bitSize);
        }
    }

    /**
     * Binds a recipe's {@code optimizer:} keys; a key left out keeps bitsandbytes' default rather
     * than Java's 0, which would silently turn off eps or weight decay.
     */
    @JsonCreator
    static AdamW8bitConfig fromJson(
            @JsonProperty("betas") List<Double> betas,
            @JsonProperty("eps") Double eps,
            @JsonProperty("weight_decay") Double weightDecay,
            @JsonProperty("amsgrad") Boolean amsgrad,
            @JsonProperty("min_8bit_size") Long min8bitSize) {
        return new AdamW8bitConfig(
                betas == null ? DEFAULTS.betas : betas,
                eps == null ? DEFAULTS.eps : eps,
                weightDecay == null ? DEFAULTS.weightDecay : weightDecay,
                amsgrad == null ? DEFAULTS.amsgrad : amsgrad,
                min8bitSize == null ? DEFAULTS.min8bitSize : min8bitSize);
    }

    public double beta1() {
        return betas.get(0);
    }

    public double beta2() {
        return betas.get(1);
    }
}
