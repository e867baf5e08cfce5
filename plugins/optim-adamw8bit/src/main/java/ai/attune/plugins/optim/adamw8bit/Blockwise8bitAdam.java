package ai.attune.plugins.optim.adamw8bit;

import ai.attune.api.quant.DynamicMap;

/**
 * The 8-bit update of a run of whole blocks: bitsandbytes' CUDA kernel
 * {@code kOptimizerStatic8bit2StateBlockwise<T, ADAM, 256, 1>} (csrc/kernels.cu) transcribed
 * element by element in float32, in its order of operations. Per block of 256 elements:
 *
 * <pre>
 * m = code1[c1] * absmax1[b];  m = m * beta1 + (1 - beta1) * g          # dequantize, then Adam's moments
 * v = code2[c2] * absmax2[b];  v = v * beta2 + (1 - beta2) * g * g
 * p = p + step_size * (m / (sqrt(v) + correction2 * eps))               # step_size = -lr * correction2 / correction1
 * p = p * (1 - lr * weight_decay)                                        # decay after the update, when weight_decay > 0
 * absmax1[b] = max |m|;  absmax2[b] = max v                              # over the block, after the update
 * c1 = nearest(code1, m / absmax1[b]);  c2 = nearest(code2, v / absmax2[b])
 * </pre>
 *
 * code1 is the signed dynamic map, code2 the unsigned one ({@link DynamicMap}). A non-finite
 * gradient element zeroes both moments of its element and leaves its parameter alone, as the
 * kernel does. After quantization, a first moment whose code has the other sign is moved one code
 * towards its own sign (the kernel's "make sure state1 term has still the same sign"): a small
 * negative m that rounds to the code of 0 is stored as the smallest negative code.
 *
 * <p>Deliberate differences, none of which changes a dequantized moment: the kernel's partial
 * last block also takes the max over its padding lanes, whose first moment is
 * {@code beta1 * code1[128] * absmax1} (padding codes load as 128), which can only win when every
 * real element of the block is below 5e-7 of the old maximum; here the max is over the tensor's
 * own elements. A block whose moments are all 0 gets absmax 0, where the kernel divides 0 by 0 and
 * stores whichever code the NaN search ends on; here it stores the code of 0. Division is IEEE
 * where the kernel uses {@code __fdividef}, and no multiply-add is fused.
 */
final class Blockwise8bitAdam {
    static final int BLOCK = 256;
    /** Index of 0 in the signed map, and of 0 in the unsigned one. */
    private static final byte ZERO1 = (byte) 127;
    private static final byte ZERO2 = 0;

    private final float[] code1;
    private final float[] code2;
    private final NearestCode nearest1;
    private final NearestCode nearest2;
    /** The first index of code1 without a sign bit: the codes below it are negative, the rest not. */
    private final int firstNonNegative1;
    /** One block's updated moments, between the pass that finds their maxima and the one that codes them. */
    private final float[] m = new float[BLOCK];
    private final float[] v = new float[BLOCK];

    /** An update over the maps {@code code1} and {@code code2} and their lookups, which are shared and only read. */
    Blockwise8bitAdam(float[] code1, NearestCode nearest1, float[] code2, NearestCode nearest2) {
        this.code1 = code1;
        this.code2 = code2;
        this.nearest1 = nearest1;
        this.nearest2 = nearest2;
        int k = 0;
        while (k < code1.length && signBit(code1[k])) {
            k++;
        }
        for (int c = k; c < code1.length; c++) {
            if (signBit(code1[c])) {
                throw new IllegalArgumentException("the signed map must list its negative codes first: code " + c + " is " + code1[c] + ", after a non-negative one");
            }
        }
        this.firstNonNegative1 = k;
    }

    /**
     * Updates {@code p[0, n)} in place from {@code g}; {@code c1}, {@code c2} [n] are the codes of
     * state1 and state2 and {@code absmax1}, {@code absmax2} [ceil(n / 256)] their block maxima, all
     * read and rewritten. The run starts on a block boundary of the tensor. {@code t} is the
     * parameter's dtype, which each new value of {@code p} is rounded to.
     */
    void update(float[] p, float[] g, byte[] c1, byte[] c2, float[] absmax1, float[] absmax2, int n, AdamStep h, FloatType t) {
        float oneMinusBeta1 = 1f - h.beta1();
        float oneMinusBeta2 = 1f - h.beta2();
        float epsHat = h.correction2() * h.eps();
        float decay = 1f - h.lr() * h.weightDecay();
        for (int start = 0, b = 0; start < n; start += BLOCK, b++) {
            int len = Math.min(BLOCK, n - start);
            float max1 = 0f;
            float max2 = 0f;
            for (int j = 0; j < len; j++) {
                int i = start + j;
                float gi = g[i];
                float mi = 0f;
                float vi = 0f;
                if (Float.isFinite(gi)) {
                    vi = code2[c2[i] & 0xFF] * absmax2[b];
                    vi = vi * h.beta2() + oneMinusBeta2 * gi * gi;
                    mi = code1[c1[i] & 0xFF] * absmax1[b];
                    mi = mi * h.beta1() + oneMinusBeta1 * gi;
                    p[i] = t.round(p[i] + h.stepSize() * (mi / ((float) Math.sqrt(vi) + epsHat)));
                    if (h.weightDecay() > 0f) {
                        p[i] = t.round(p[i] * decay);
                    }
                }
                m[j] = mi;
                v[j] = vi;
                // fmaxf: a NaN never becomes the maximum
                float a1 = Math.abs(mi);
                if (a1 > max1) {
                    max1 = a1;
                }
                if (vi > max2) {
                    max2 = vi;
                }
            }
            absmax1[b] = max1;
            absmax2[b] = max2;
            for (int j = 0; j < len; j++) {
                int i = start + j;
                c1[i] = max1 == 0f ? ZERO1 : signed(m[j], max1);
                c2[i] = max2 == 0f ? ZERO2 : (byte) nearest2.index(v[j] / max2);
            }
        }
    }

    /** The nearest signed code, then moved one code towards {@code x}'s own sign if it landed on the other. */
    private byte signed(float x, float absmax) {
        int c = nearest1.index(x / absmax);
        // signBit(code1[c]) != signBit(x), as one comparison that is almost never true: two
        // comparisons of random signs cost a mispredicted branch on most elements.
        if (((c - firstNonNegative1) ^ Float.floatToRawIntBits(x)) < 0) {
            c += x > 0f ? 1 : -1;
        }
        return (byte) c; // an unsigned char in the kernel: -1 wraps to 255 as it does there
    }

    private static boolean signBit(float x) {
        return Float.floatToRawIntBits(x) < 0;
    }
}
