package ai.attune.plugins.optim.adamw8bit;

import ai.attune.api.tensor.DType;

/**
 * The parameter and gradient dtypes bitsandbytes' optimizer kernels are instantiated for (their
 * template T: float, half, bfloat16), whose values the kernels widen to float32 for the update.
 */
enum FloatType {
    F32, BF16, F16;

    /** The type of {@code dtype}, or null for one the kernels have no instance for (f64, integers). */
    static FloatType of(DType dtype) {
        return switch (dtype) {
            case F32 -> F32;
            case BF16 -> BF16;
            case F16 -> F16;
            default -> null;
        };
    }

    /**
     * {@code x} as the kernel's {@code (T)} cast stores it in the parameter: round to nearest even.
     * The kernels round after the Adam update and again after the decay, so the update does too.
     */
    float round(float x) {
        return switch (this) {
            case F32 -> x;
            case BF16 -> DType.bf16ToFloat(DType.floatToBf16(x));
            case F16 -> Float.float16ToFloat(Float.floatToFloat16(x));
        };
    }
}
