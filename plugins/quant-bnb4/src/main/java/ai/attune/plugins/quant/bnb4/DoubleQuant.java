package ai.attune.plugins.quant.bnb4;

import ai.attune.api.quant.DynamicMap;

/**
 * Double quantization (QLoRA section 3, {@code bnb_4bit_use_double_quant}): the float32 absmax
 * values of a 4-bit weight, less their mean, quantized blockwise with the signed 8-bit dynamic map.
 * At blocksize 64 this takes the scales from 32 / 64 = 0.5 to 8 / 64 + 32 / (64 * 256) ≈ 0.127 bits
 * per parameter.
 *
 * @param codes        one 8-bit code per absmax ({@code absmax}, uint8, in the file)
 * @param nestedAbsmax one float32 scale per {@link #BLOCKSIZE} codes ({@code nested_absmax})
 * @param code         the map the codes index ({@code nested_quant_map})
 * @param offset       the mean that was taken off ({@code nested_offset})
 */
record DoubleQuant(byte[] codes, float[] nestedAbsmax, float[] code, float offset) {
    /** {@code quantize_4bit} quantizes the absmax in blocks of 256, whatever the 4-bit blocksize. */
    static final int BLOCKSIZE = 256;

    static DoubleQuant of(float[] absmax) {
        float offset = mean(absmax);
        float[] centred = new float[absmax.length];
        for (int i = 0; i < centred.length; i++) {
            centred[i] = absmax[i] - offset;
        }
        float[] code = DynamicMap.signed();
        Blockwise.EightBit q = Blockwise.quantize8(centred, BLOCKSIZE, code);
        return new DoubleQuant(q.codes(), q.absmax(), code, offset);
    }

    /** The absmax values the 4-bit codes are scaled by: {@code code[q] * nested_absmax + nested_offset}, in float32. */
    float[] absmax() {
        float[] out = Blockwise.dequantize8(codes, nestedAbsmax, BLOCKSIZE, code);
        for (int i = 0; i < out.length; i++) {
            out[i] += offset;
        }
        return out;
    }

    /** The float32 mean; summed in double, so the order of the sum does not show. */
    private static float mean(float[] x) {
        double sum = 0;
        for (float v : x) {
            sum += v;
        }
        return (float) (sum / x.length);
    }
}
