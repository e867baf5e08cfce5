package ai.attune.api.quant;

import java.util.Arrays;

/**
 * bitsandbytes' 8-bit dynamic maps ({@code create_dynamic_map}, Dettmers 2016, "8-Bit
 * Approximations for Parallelism in Deep Learning", <https://arxiv.org/abs/1511.04561>) and the
 * nearest-value search of its CUDA kernels. The signed map codes the absmax values of double
 * quantization and the first moment of the 8-bit optimizers; the unsigned one their second moment,
 * which is never negative and so gets twice the resolution.
 *
 * <p>For each decimal exponent {@code e = 0..6}, the midpoints of {@code linspace(0.1, 1, k + 1)}
 * times {@code 10^(e - 6)}: {@code k = 2^e} of them with both signs (signed), {@code k = 2^(e+1)}
 * positive ones (unsigned). That is 254 values either way, plus 0 and 1, sorted. The arithmetic is
 * float32 as torch does it (the linspace, the midpoints, the product with the power of ten rounded
 * to float32), so the values agree with that closed form to within float32 rounding; a file that
 * stores a map (a 4-bit weight's {@code nested_quant_map}) is decoded with its own copy.
 */
public final class DynamicMap {
    public static final int SIZE = 256;
    private static final int MAX_EXPONENT_BITS = 7;

    private DynamicMap() {}

    /** {@code create_dynamic_map(signed=True)}, ascending: index 0 is -0.99296875, 127 is 0, 255 is 1. */
    public static float[] signed() {
        return create(true);
    }

    /** {@code create_dynamic_map(signed=False)}, ascending: index 0 is 0, 255 is 1. */
    public static float[] unsigned() {
        return create(false);
    }

    private static float[] create(boolean signed) {
        float[] data = new float[SIZE];
        int n = 0;
        for (int i = 0; i < MAX_EXPONENT_BITS; i++) {
            // The sign bit is a fraction bit when there is no sign: twice the values per exponent.
            int items = (signed ? 1 << i : 1 << (i + 1)) + 1;
            float[] boundaries = linspace(0.1f, 1f, items);
            float scale = (float) Double.parseDouble("1e" + (i - (MAX_EXPONENT_BITS - 1))); // the double Python's 10 ** -k is, then float32
            for (int j = 0; j + 1 < items; j++) {
                float mean = (boundaries[j] + boundaries[j + 1]) / 2f;
                data[n++] = scale * mean;
                if (signed) {
                    data[n++] = -scale * mean;
                }
            }
        }
        data[n++] = 0f;
        data[n++] = 1f;
        Arrays.sort(data, 0, n); // n == SIZE: no padding zeros are needed with 7 exponent bits
        return data;
    }

    /** {@code torch.linspace} on float32, as its CPU kernel computes it: from the start up to the middle, from the end after. */
    private static float[] linspace(float start, float end, int steps) {
        float step = (end - start) / (steps - 1);
        float[] out = new float[steps];
        int halfway = steps / 2;
        for (int idx = 0; idx < steps; idx++) {
            out[idx] = idx < halfway ? start + step * idx : end - step * (steps - idx - 1);
        }
        return out;
    }

    /**
     * The index of the code value nearest {@code x} (in [-1, 1], or [0, 1] for the unsigned map):
     * a 7-step binary search from the middle, then the midpoint test against the neighbour on
     * {@code x}'s side, as bitsandbytes' {@code dQuantize<0>} does it (a tie goes to the searched
     * pivot, which is always the even index of the two). The optimizers' {@code quantize_2D} is the
     * same search with its first two levels cached; it starts from -1 (signed) or 0 (unsigned) and
     * 1 as bounds, which are the maps' own ends or never read, so it returns the same indices.
     */
    public static int quantize(float[] code, float x) {
        int pivot = 127;
        int upperPivot = 255;
        int lowerPivot = 0;
        float lower = -1f;
        float upper = 1f;
        float val = code[pivot];
        for (int i = 64; i > 0; i >>= 1) {
            if (x > val) {
                lowerPivot = pivot;
                lower = val;
                pivot += i;
            } else {
                upperPivot = pivot;
                upper = val;
                pivot -= i;
            }
            val = code[pivot];
        }
        if (upperPivot == 255) {
            upper = code[upperPivot];
        }
        if (lowerPivot == 0) {
            lower = code[lowerPivot];
        }
        if (x > val) {
            return x > (upper + val) * 0.5f ? upperPivot : pivot;
        }
        return x < (lower + val) * 0.5f ? lowerPivot : pivot;
    }
}
