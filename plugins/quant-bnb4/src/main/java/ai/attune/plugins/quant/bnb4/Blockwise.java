package ai.attune.plugins.quant.bnb4;

import ai.attune.api.quant.DynamicMap;

/**
 * bitsandbytes' blockwise quantization over a row-major flattened tensor: blocks of
 * {@code blocksize} consecutive elements, each scaled by its own absolute maximum. The last block
 * may be short; its absmax is taken over its real elements only.
 */
final class Blockwise {
    /** The valid {@code blocksize} values of {@code quantize_4bit}. */
    static final int[] BLOCKSIZES_4BIT = {32, 64, 128, 256, 512, 1024, 2048, 4096};

    /** 4-bit codes, two per byte (the first element of a pair in the high nibble), and one absmax per block. */
    record FourBit(byte[] packed, float[] absmax) {}

    /** 8-bit codes, one per element, and one absmax per block. */
    record EightBit(byte[] codes, float[] absmax) {}

    private Blockwise() {}

    static int blocks(long n, int blocksize) {
        return Math.toIntExact((n + blocksize - 1) / blocksize);
    }

    /**
     * {@code quantize_4bit}: each element times its block's float32 {@code 1 / absmax}, coded by
     * {@code type}'s decision tree; an odd element count pads the last byte's low nibble with the
     * code of 0.
     */
    static FourBit quantize4(float[] x, int blocksize, QuantType type) {
        int n = x.length;
        float[] absmax = new float[blocks(n, blocksize)];
        byte[] packed = new byte[(n + 1) / 2];
        for (int b = 0; b < absmax.length; b++) {
            int from = b * blocksize;
            int to = Math.min(n, from + blocksize);
            absmax[b] = absmax(x, from, to);
            float scale = 1f / absmax[b]; // the kernel multiplies by the reciprocal; it does not divide
            for (int i = from; i < to; i += 2) {
                int hi = type.quantize(x[i] * scale);
                int lo = type.quantize(i + 1 < to ? x[i + 1] * scale : 0f * scale);
                packed[i >> 1] = (byte) (hi << 4 | lo);
            }
        }
        return new FourBit(packed, absmax);
    }

    /** {@code dequantize_4bit}: code value times its block's absmax, in float32, into {@code out} (the dense length). */
    static void dequantize4(byte[] packed, float[] absmax, int blocksize, QuantType type, float[] out) {
        for (int i = 0; i < out.length; i++) {
            int b = packed[i >> 1];
            int code = (i & 1) == 0 ? b >> 4 : b;
            out[i] = type.value(code) * absmax[i / blocksize];
        }
    }

    /** {@code quantize_blockwise} with a 256-entry map: each element times {@code 1 / absmax}, coded by nearest value. */
    static EightBit quantize8(float[] x, int blocksize, float[] code) {
        int n = x.length;
        float[] absmax = new float[blocks(n, blocksize)];
        byte[] codes = new byte[n];
        for (int b = 0; b < absmax.length; b++) {
            int from = b * blocksize;
            int to = Math.min(n, from + blocksize);
            absmax[b] = absmax(x, from, to);
            float scale = 1f / absmax[b];
            for (int i = from; i < to; i++) {
                codes[i] = (byte) DynamicMap.quantize(code, x[i] * scale);
            }
        }
        return new EightBit(codes, absmax);
    }

    /** {@code dequantize_blockwise}: {@code code[q] * absmax}, in float32. */
    static float[] dequantize8(byte[] codes, float[] absmax, int blocksize, float[] code) {
        float[] out = new float[codes.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = code[codes[i] & 0xFF] * absmax[i / blocksize];
        }
        return out;
    }

    /** The block's max |x|, as the kernel's fmaxf reduction from -FLT_MAX: a NaN element is passed over. */
    static float absmax(float[] x, int from, int to) {
        float m = -Float.MAX_VALUE;
        for (int i = from; i < to; i++) {
            float a = Math.abs(x[i]);
            if (a > m) {
                m = a;
            }
        }
        return m;
    }
}
