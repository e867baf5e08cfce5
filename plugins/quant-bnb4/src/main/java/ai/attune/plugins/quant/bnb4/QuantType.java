package ai.attune.plugins.quant.bnb4;

/**
 * bitsandbytes' two 4-bit codes. A code is chosen from {@code x / absmax} (in [-1, 1]) by the
 * decision tree of the CUDA kernel ({@code dQuantizeNF4}, {@code dQuantizeFP4}): its thresholds are
 * the midpoints between neighbouring code values, written as the kernel writes them, and each test
 * is a strict {@code >}, so a value exactly on a threshold takes the lower code. A NaN (the 0 / 0 of
 * an all-zero block) fails every test and takes code 0, as on the GPU.
 */
enum QuantType {
    /**
     * NormalFloat4 (Dettmers et al. 2023): 16 quantiles of N(0, 1) scaled to [-1, 1] with an exact
     * zero; the code is the index into the sorted table.
     */
    NF4("nf4", new float[] {
            -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
            -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
            0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
            0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f}) {
        @Override
        int quantize(float x) {
            if (x > 0.03979014977812767f) {
                if (x > 0.3893125355243683f) {
                    if (x > 0.6427869200706482f) {
                        return x > 0.8614784181118011f ? 0b1111 : 0b1110;
                    }
                    return x > 0.5016634166240692f ? 0b1101 : 0b1100;
                }
                if (x > 0.2035212516784668f) {
                    return x > 0.2920137718319893f ? 0b1011 : 0b1010;
                }
                return x > 0.1202552504837513f ? 0b1001 : 0b1000;
            }
            if (x > -0.33967943489551544f) {
                if (x > -0.13791173323988914f) {
                    return x > -0.045525018125772476f ? 0b0111 : 0b0110;
                }
                return x > -0.23460740596055984f ? 0b0101 : 0b0100;
            }
            if (x > -0.6106329262256622f) {
                return x > -0.4599952697753906f ? 0b0011 : 0b0010;
            }
            return x > -0.8480964004993439f ? 0b0001 : 0b0000;
        }
    },

    /**
     * A 4-bit float, sign bit first, then two exponent bits and one mantissa bit, scaled so its
     * largest magnitude (12) is 1: magnitudes 0, 0.0625, 8, 12, 4, 6, 2, 3 (codes 0..7) over 12.
     */
    FP4("fp4", new float[] {
            0f, 0.0625f / 12, 8f / 12, 12f / 12, 4f / 12, 6f / 12, 2f / 12, 3f / 12,
            -0f, -0.0625f / 12, -8f / 12, -12f / 12, -4f / 12, -6f / 12, -2f / 12, -3f / 12}) {
        @Override
        int quantize(float x) {
            int sign = x < 0 ? 0b1000 : 0;
            float a = Math.abs(x);
            if (a > 0.29166667f) {
                if (a > 0.583333f) {
                    return sign + (a > 0.8333333f ? 0b011 : 0b010);
                }
                return sign + (a > 0.4166667f ? 0b101 : 0b100);
            }
            if (a > 0.0859375f) {
                return sign + (a > 0.20833333f ? 0b111 : 0b110);
            }
            return sign + (a > 0.00260417f ? 0b001 : 0b000);
        }
    };

    private final String id;
    private final float[] quantMap;

    QuantType(String id, float[] quantMap) {
        this.id = id;
        this.quantMap = quantMap;
    }

    /** The 4-bit code of {@code x}, a weight already multiplied by its block's {@code 1 / absmax}. */
    abstract int quantize(float x);

    /** The value a code stands for, before scaling by absmax. */
    float value(int code) {
        return quantMap[code & 0xF];
    }

    /**
     * The 16 code values in code order: bitsandbytes' {@code get_4bit_type}, saved as
     * {@code quant_map}. Its FP4 list writes the negative zero as Python's integer {@code -0}, which
     * is +0; dequantization still gives -0 there, as the kernel's {@code value * sign} does.
     */
    float[] quantMap() {
        float[] out = quantMap.clone();
        for (int i = 0; i < out.length; i++) {
            out[i] = out[i] == 0f ? 0f : out[i];
        }
        return out;
    }

    /** The 16 values the codes decode to, as {@link #value} gives them: FP4's code 8 is -0. */
    float[] codeValues() {
        return quantMap.clone();
    }

    /** bitsandbytes' {@code quant_type}: {@code nf4} or {@code fp4}. */
    String id() {
        return id;
    }
}
