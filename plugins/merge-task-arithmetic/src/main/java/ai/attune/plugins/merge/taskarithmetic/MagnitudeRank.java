package ai.attune.plugins.merge.taskarithmetic;

/**
 * Exact order statistics of the magnitudes {@code |τ|} of one tensor in two streaming passes, with
 * memory independent of the tensor's size: a radix select on the f32 bit patterns (for
 * non-negative floats the bits order as the values do). Pass 0 counts the high 16 bits; the bin
 * holding each target position is then known, and pass 1 counts the low 16 bits inside it.
 *
 * <p>Positions are in the stable ascending order of magnitude (equal magnitudes ordered by element
 * index). For a target position {@code p} the result is the magnitude {@code value(p)} found there
 * and {@code less(p)}, how many elements are strictly smaller, so an element equal to the value is
 * at position {@code less(p) + (equal elements before it)}.
 */
final class MagnitudeRank {
    private static final int BINS = 1 << 16;

    private final long[] targets;
    private final long[] high = new long[BINS];
    private final int[] bin;
    private final long[] below;
    private final long[][] low;
    private final float[] value;
    private final long[] less;

    /** @param targets ascending positions, each in {@code [0, numel)} */
    MagnitudeRank(long... targets) {
        this.targets = targets.clone();
        int n = targets.length;
        bin = new int[n];
        below = new long[n];
        low = new long[n][];
        value = new float[n];
        less = new long[n];
    }

    /** Pass 0. */
    void countHigh(float[] tau, int n) {
        for (int e = 0; e < n; e++) {
            high[bits(tau[e]) >>> 16]++;
        }
    }

    void endHigh() {
        for (int t = 0; t < targets.length; t++) {
            long seen = 0;
            int h = 0;
            while (seen + high[h] <= targets[t]) {
                seen += high[h++];
            }
            bin[t] = h;
            below[t] = seen;
            low[t] = new long[BINS];
        }
    }

    /** Pass 1. */
    void countLow(float[] tau, int n) {
        for (int e = 0; e < n; e++) {
            int b = bits(tau[e]);
            for (int t = 0; t < targets.length; t++) {
                if (b >>> 16 == bin[t]) {
                    low[t][b & 0xffff]++;
                }
            }
        }
    }

    void endLow() {
        for (int t = 0; t < targets.length; t++) {
            long seen = below[t];
            int l = 0;
            while (seen + low[t][l] <= targets[t]) {
                seen += low[t][l++];
            }
            value[t] = Float.intBitsToFloat(bin[t] << 16 | l);
            less[t] = seen;
            low[t] = null;
        }
    }

    /** The magnitude at target {@code t}'s position. */
    float value(int t) {
        return value[t];
    }

    /** How many magnitudes are strictly smaller than {@link #value(int)}. */
    long less(int t) {
        return less[t];
    }

    private static int bits(float tau) {
        return Float.floatToRawIntBits(tau) & 0x7fffffff; // |τ|
    }
}
