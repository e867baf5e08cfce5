package ai.attune.plugins.quant.bnb4;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The 4-bit codes at every decision boundary: just below, exactly on (a strict {@code >} keeps the
 * lower code) and just above each threshold.
 *
 * <p>Goldens: NF4's thresholds are the midpoints of neighbouring values of the published NF4 table
 * (QLoRA, Appendix E), computed in double and printed the way Python prints a float, which is how
 * the kernel's tree was generated; the kernel's {@code f} literals then round that decimal to
 * float32 directly (for -0.8480964004993439 this differs from rounding the double, which lies
 * exactly between two floats). The code is the table index. FP4's thresholds are the kernel's decimals, each checked against the midpoint of the two
 * magnitudes it separates (hand-worked from the FP4 table: magnitude m with bits 0b0eem... over
 * 12), with the codes written out by hand.
 */
class QuantTypeTest {
    /** NF4 as published: 16 quantiles of N(0, 1), normalised to [-1, 1], with an exact zero. */
    private static final double[] NF4 = {-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
            -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
            0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0};

    @Test
    void nf4CodeAtEveryThreshold() {
        for (int i = 0; i < 15; i++) {
            double midpoint = ((double) (float) NF4[i] + (double) (float) NF4[i + 1]) / 2;
            float t = Float.parseFloat(Double.toString(midpoint)); // Java's shortest digits are Python's repr
            assertEquals(i, QuantType.NF4.quantize(Math.nextDown(t)), "just below threshold " + t);
            assertEquals(i, QuantType.NF4.quantize(t), "on threshold " + t);
            assertEquals(i + 1, QuantType.NF4.quantize(Math.nextUp(t)), "just above threshold " + t);
        }
    }

    @Test
    void nf4EndsZeroAndNaN() {
        assertEquals(0b0000, QuantType.NF4.quantize(-1f));
        assertEquals(0b1111, QuantType.NF4.quantize(1f));
        assertEquals(0b0111, QuantType.NF4.quantize(0f));
        assertEquals(0b0111, QuantType.NF4.quantize(-0f));
        assertEquals(0b0000, QuantType.NF4.quantize(Float.NaN), "0 * (1 / 0) of an all-zero block fails every test");
    }

    @Test
    void nf4ValuesAreTheTable() {
        for (int i = 0; i < 16; i++) {
            assertEquals((float) NF4[i], QuantType.NF4.value(i));
            assertEquals((float) NF4[i], QuantType.NF4.quantMap()[i]);
        }
    }

    /** {threshold as the kernel writes it, magnitude below, magnitude above, code below, code above}. */
    private static final double[][] FP4 = {
            {0.00260417, 0, 0.0625 / 12, 0b000, 0b001},
            {0.0859375, 0.0625 / 12, 2.0 / 12, 0b001, 0b110},
            {0.20833333, 2.0 / 12, 3.0 / 12, 0b110, 0b111},
            {0.29166667, 3.0 / 12, 4.0 / 12, 0b111, 0b100},
            {0.4166667, 4.0 / 12, 6.0 / 12, 0b100, 0b101},
            {0.583333, 6.0 / 12, 8.0 / 12, 0b101, 0b010},
            {0.8333333, 8.0 / 12, 12.0 / 12, 0b010, 0b011}};

    @Test
    void fp4CodeAtEveryThresholdBothSigns() {
        for (double[] row : FP4) {
            float t = (float) row[0];
            assertEquals((row[1] + row[2]) / 2, t, 1e-6, "the threshold is the midpoint of its two magnitudes");
            int below = (int) row[3];
            int above = (int) row[4];
            assertEquals(below, QuantType.FP4.quantize(Math.nextDown(t)), "just below " + t);
            assertEquals(below, QuantType.FP4.quantize(t), "on " + t);
            assertEquals(above, QuantType.FP4.quantize(Math.nextUp(t)), "just above " + t);
            assertEquals(0b1000 | below, QuantType.FP4.quantize(-Math.nextDown(t)), "just above -" + t);
            assertEquals(0b1000 | below, QuantType.FP4.quantize(-t), "on -" + t);
            assertEquals(0b1000 | above, QuantType.FP4.quantize(-Math.nextUp(t)), "just below -" + t);
            assertEquals((float) row[1], Math.abs(QuantType.FP4.value(below)));
            assertEquals((float) row[2], QuantType.FP4.value(above));
            assertEquals(-(float) row[2], QuantType.FP4.value(0b1000 | above));
        }
    }

    @Test
    void fp4SignedZeroAndTheKernelsTable() {
        assertEquals(0b0000, QuantType.FP4.quantize(-0f), "-0 is not < 0");
        assertEquals(0b1011, QuantType.FP4.quantize(-1f));
        assertEquals(0b0000, QuantType.FP4.quantize(Float.NaN));
        // The CUDA kernel's dequantization table, as it writes the decimals.
        float[] lut = {0.0f, 0.005208333333f, 0.66666667f, 1.0f, 0.33333333f, 0.5f, 0.16666667f, 0.25f};
        for (int c = 0; c < 8; c++) {
            assertEquals(lut[c], QuantType.FP4.value(c));
            assertEquals(-lut[c], QuantType.FP4.value(c | 0b1000));
        }
        assertEquals(Float.floatToRawIntBits(-0f), Float.floatToRawIntBits(QuantType.FP4.value(0b1000)), "0 * -1 in the kernel");
        assertEquals(Float.floatToRawIntBits(0f), Float.floatToRawIntBits(QuantType.FP4.quantMap()[8]), "Python's -0 is the integer 0");
    }
}
