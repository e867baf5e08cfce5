package ai.attune.plugins.memory.mixedprecision;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * Mixed precision's options: the product dtype, and {@code torch.amp.GradScaler}'s arguments with
 * its defaults for f16's dynamic loss scaling (bf16 has f32's exponent range and needs none).
 *
 * @param dtype          {@code bf16} or {@code fp16}
 * @param initScale      the first loss scale
 * @param growthFactor   the scale is multiplied by this after {@code growthInterval} clean steps
 * @param backoffFactor  and by this after a step whose gradients overflowed (the step is skipped)
 * @param growthInterval clean steps between growths
 */
public record MixedPrecisionConfig(
        @JsonProperty("dtype") String dtype,
        @JsonProperty("init_scale") double initScale,
        @JsonProperty("growth_factor") double growthFactor,
        @JsonProperty("backoff_factor") double backoffFactor,
        @JsonProperty("growth_interval") int growthInterval) {

    public static final MixedPrecisionConfig DEFAULTS = new MixedPrecisionConfig("bf16", 65536.0, 2.0, 0.5, 2000);

    public MixedPrecisionConfig {
        if (!"bf16".equals(dtype) && !"fp16".equals(dtype)) {
            throw new IllegalArgumentException("dtype must be bf16 or fp16, got '" + dtype + "'");
        }
        if (!(initScale > 0) || !(growthFactor > 1) || !(backoffFactor > 0 && backoffFactor < 1) || growthInterval < 1) {
            throw new IllegalArgumentException("need init_scale > 0, growth_factor > 1, 0 < backoff_factor < 1 and growth_interval >= 1");
        }
    }

    /** Binds a block of keys; a key left out keeps GradScaler's default rather than Java's 0. */
    @JsonCreator
    static MixedPrecisionConfig fromJson(
            @JsonProperty("dtype") String dtype,
            @JsonProperty("init_scale") Double initScale,
            @JsonProperty("growth_factor") Double growthFactor,
            @JsonProperty("backoff_factor") Double backoffFactor,
            @JsonProperty("growth_interval") Integer growthInterval) {
        return new MixedPrecisionConfig(
                dtype == null ? DEFAULTS.dtype : dtype,
                initScale == null ? DEFAULTS.initScale : initScale,
                growthFactor == null ? DEFAULTS.growthFactor : growthFactor,
                backoffFactor == null ? DEFAULTS.backoffFactor : backoffFactor,
                growthInterval == null ? DEFAULTS.growthInterval : growthInterval);
    }
}
