package com.example.attune.lion;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;

import java.util.List;

/**
 * The options of lucidrains' {@code lion_pytorch.Lion}, with its key names and defaults (those of
 * the paper's Program 1). The learning rate is not here: the recipe's {@code train.optimizer.lr}
 * and schedule give it per step.
 *
 * @param betas       (beta1, beta2): beta1 interpolates the update direction between momentum and
 *                    gradient, beta2 is the decay rate of the momentum {@code exp_avg}
 * @param weightDecay decoupled weight decay: {@code p *= 1 - lr * weight_decay} before the update
 */
public record LionConfig(
        @JsonProperty("betas") List<Double> betas,
        @JsonProperty("weight_decay") double weightDecay) {

    /** lion-pytorch's defaults: betas (0.9, 0.99), weight_decay 0. */
    public static final LionConfig DEFAULTS = new LionConfig(List.of(0.9, 0.99), 0.0);

    public LionConfig {
        if (betas == null || betas.size() != 2) {
            throw new IllegalArgumentException("betas must be two numbers [beta1, beta2], got " + betas);
        }
        for (int i = 0; i < 2; i++) {
            Double b = betas.get(i);
            // lion-pytorch accepts [0, 1]; beta 1 is legal there too (a frozen momentum).
            if (b == null || !(b >= 0 && b <= 1)) {
                throw new IllegalArgumentException("betas[" + i + "] must be in [0, 1], got " + b);
            }
        }
        betas = List.copyOf(betas);
        if (!(weightDecay >= 0) || Double.isInfinite(weightDecay)) {
            throw new IllegalArgumentException("weight_decay must be a finite number >= 0, got " + weightDecay);
        }
    }

    /**
     * Binds a recipe's {@code train.optimizer} keys (other than {@code name} and {@code lr}); a key
     * left out keeps lion-pytorch's default rather than Java's 0, and an unknown key is an error.
     */
    @JsonCreator
    static LionConfig fromJson(
            @JsonProperty("betas") List<Double> betas,
            @JsonProperty("weight_decay") Double weightDecay) {
        return new LionConfig(
                betas == null ? DEFAULTS.betas : betas,
                weightDecay == null ? DEFAULTS.weightDecay : weightDecay);
    }

    public double beta1() {
        return betas.get(0);
    }

    public double beta2() {
        return betas.get(1);
    }
}
