package ai.attune.runtime.model;

/**
 * An independent transcription of bitsandbytes' NF4 for the quantized-model tests: the published
 * NF4 table and, in place of the kernel's decision tree, the equivalent count of the thresholds a
 * value exceeds. The thresholds are the midpoints of neighbouring table values as Python prints
 * them (how the kernel's tree was generated), read as float32 decimals, as the kernel's literals are.
 */
final class Bnb4Reference {
    static final float[] NF4 = {-1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f, -0.28444138169288635f,
            -0.18477343022823334f, -0.09105003625154495f, 0.0f, 0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f,
            0.33791524171829224f, 0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f};
    private static final float[] THRESHOLDS = new float[15];

    static {
        for (int i = 0; i < 15; i++) {
            THRESHOLDS[i] = Float.parseFloat(Double.toString(((double) NF4[i] + NF4[i + 1]) / 2));
        }
    }

    /** Packed codes ({@code [0]}) and absmax ({@code [1]}, as float bits) of {@code x} in blocks of {@code blocksize}. */
    record Quantized(byte[] packed, float[] absmax) {}

    private Bnb4Reference() {}

    static Quantized nf4(float[] x, int blocksize) {
        int blocks = (x.length + blocksize - 1) / blocksize;
        float[] absmax = new float[blocks];
        int[] codes = new int[x.length];
        for (int b = 0; b < blocks; b++) {
            float m = 0;
            for (int i = b * blocksize; i < Math.min(x.length, (b + 1) * blocksize); i++) {
                m = Math.max(m, Math.abs(x[i]));
            }
            absmax[b] = m;
            float scale = 1f / m;
            for (int i = b * blocksize; i < Math.min(x.length, (b + 1) * blocksize); i++) {
                int c = 0;
                while (c < 15 && x[i] * scale > THRESHOLDS[c]) {
                    c++;
                }
                codes[i] = c;
            }
        }
        byte[] packed = new byte[x.length / 2];
        for (int i = 0; i < packed.length; i++) {
            packed[i] = (byte) (codes[2 * i] << 4 | codes[2 * i + 1]);
        }
        return new Quantized(packed, absmax);
    }

    /** Code value times absmax. */
    static float[] dequantize(byte[] packed, float[] absmax, int blocksize) {
        float[] out = new float[packed.length * 2];
        for (int i = 0; i < out.length; i++) {
            int code = (i % 2 == 0 ? packed[i / 2] >> 4 : packed[i / 2]) & 0xF;
            out[i] = NF4[code] * absmax[i / blocksize];
        }
        return out;
    }
}
