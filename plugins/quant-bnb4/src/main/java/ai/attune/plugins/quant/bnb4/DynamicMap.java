package ai.attune.plugins.quant.bnb4;

import java.util.Arrays;

/**
 * bitsandbytes' signed 8-bit dynamic map ({@code create_dynamic_map(signed=True)}, Dettmers 2016,
 * "8-Bit Approximations for Parallelism in Deep Learning"), which double quantization uses for
 * the absmax values, and the nearest-value search of its CUDA kernel ({@code dQuantize}).
 *
 * <p>For each decimal exponent {@code e = 0..6}, the {@code 2^e} midpoints of
 * {@code linspace(0.1, 1, 2^e + 1)} times {@code 10^(e - 6)}, with both signs: 254 values, plus 0
 * and 1, sorted. The arithmetic is float32 as torch does it (the linspace, the midpoints, the
 * product with the power of ten rounded to float32), so the values agree with that closed form to
 * within float32 rounding; a file carries its own copy as {@code nested_quant_map} and is decoded
 * with it.
 */
final class DynamicMap {
    static final int SIZE = 256;
    private static final int MAX_EXPONENT_BITS = 7;

    private DynamicMap() {}

    /** The 256 values, ascending: index 127 is 0, index 255 is 1. */
    static float[] signed() {
        float[] data = new float[SIZE];
        int n = 0;
        for (int i = 0; i < MAX_EXPONENT_BITS; i++) {
            int items = (1 << i) + 1;
            float[] boundaries = linspace(0.1f, 1f, items);
            float scale = (float) Double.parseDouble("1e" + (i - (MAX_EXPONENT_BITS - 1))); // the double Python's 10 ** -k is, then float32
            for (int j = 0; j + 1 < items; j++) {
                float mean = (boundaries[j] + boundaries[j + 1]) / 2f;
                data[n++] = scale * mean;
                data[n++] = -scale * mean;
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
     * The index of the code value nearest {@code x} (in [-1, 1]): a 7-step binary search from the
     * middle, then the midpoint test against the neighbour on {@code x}'s side, as bitsandbytes'
     * {@code dQuantize<0>} does it (a tie goes to the searched pivot above it, to the lower one
     * below it).
     */
    static int quantize(float[] code, float x) {
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
