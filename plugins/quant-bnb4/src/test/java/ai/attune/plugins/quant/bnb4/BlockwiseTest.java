package ai.attune.plugins.quant.bnb4;

import ai.attune.api.quant.DynamicMap;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** Blocks, absmax and the packing order, worked by hand. */
class BlockwiseTest {
    /**
     * Blocks of 4 over [0.5, -1, 0.25, 2 | 3]. Block 0: absmax 2, so the scaled values are
     * [0.25, -0.5, 0.125, 1], between the NF4 thresholds 0.2035 < 0.25 ≤ 0.2920 (code 10),
     * -0.6106 < -0.5 ≤ -0.4600 (code 2), 0.1203 < 0.125 ≤ 0.2035 (code 9) and 1 > 0.8615 (code 15).
     * Block 1 holds one element: absmax 3, code 15, and the pad's code is that of 0 (7).
     * Codes pair up first-in-the-high-nibble: 0xA2, 0x9F, 0xF7.
     */
    @Test
    void nf4CodesAbsmaxAndPacking() {
        Blockwise.FourBit q = Blockwise.quantize4(new float[] {0.5f, -1f, 0.25f, 2f, 3f}, 4, QuantType.NF4);
        assertArrayEquals(new float[] {2f, 3f}, q.absmax());
        assertArrayEquals(new byte[] {(byte) 0xA2, (byte) 0x9F, (byte) 0xF7}, q.packed());

        float[] out = new float[5];
        Blockwise.dequantize4(q.packed(), q.absmax(), 4, QuantType.NF4, out);
        assertArrayEquals(new float[] {0.24611230194568634f * 2f, -0.5250730514526367f * 2f, 0.16093020141124725f * 2f, 2f, 3f}, out);
    }

    /** The same numbers in FP4: 0.25 is code 0b111, -0.5 is 0b1101, 0.125 is 0b110 (2/12 is nearest), 1 is 0b011. */
    @Test
    void fp4CodesAndPacking() {
        Blockwise.FourBit q = Blockwise.quantize4(new float[] {0.5f, -1f, 0.25f, 2f}, 4, QuantType.FP4);
        assertArrayEquals(new byte[] {(byte) 0x7D, (byte) 0x63}, q.packed());
        float[] out = new float[4];
        Blockwise.dequantize4(q.packed(), q.absmax(), 4, QuantType.FP4, out);
        assertArrayEquals(new float[] {0.25f * 2f, -0.5f * 2f, (2f / 12) * 2f, 2f}, out);
    }

    /** An all-zero block has absmax 0; 0 · (1/0) is NaN, which takes code 0, and dequantizes to -1 · 0 = -0. */
    @Test
    void allZeroBlock() {
        Blockwise.FourBit q = Blockwise.quantize4(new float[] {0f, 0f, 1f, -1f}, 2, QuantType.NF4);
        assertArrayEquals(new float[] {0f, 1f}, q.absmax());
        assertArrayEquals(new byte[] {0x00, (byte) 0xF0}, q.packed());
        float[] out = new float[4];
        Blockwise.dequantize4(q.packed(), q.absmax(), 2, QuantType.NF4, out);
        assertArrayEquals(new float[] {-0f, -0f, 1f, -1f}, out);
    }

    /** The absmax is the kernel's fmaxf reduction, which passes over NaN. */
    @Test
    void absmaxIgnoresNaN() {
        assertEquals(2f, Blockwise.absmax(new float[] {Float.NaN, -2f, 1f}, 0, 3));
    }

    /** 8-bit blocks: each value times 1/absmax, coded to the nearest map value; the absmax element maps to ±1 exactly. */
    @Test
    void eightBitBlocks() {
        float[] code = DynamicMap.signed();
        Blockwise.EightBit q = Blockwise.quantize8(new float[] {-4f, 0f, 2f, 0.5f}, 2, code);
        assertArrayEquals(new float[] {4f, 2f}, q.absmax());
        assertEquals(0, q.codes()[0] & 0xFF, "-1 takes the lowest code, -0.99296875");
        assertEquals(127, q.codes()[1] & 0xFF);
        assertEquals(255, q.codes()[2] & 0xFF);
        float[] back = Blockwise.dequantize8(q.codes(), q.absmax(), 2, code);
        assertEquals(-0.99296875f * 4f, back[0]);
        assertEquals(0f, back[1]);
        assertEquals(2f, back[2]);
        assertEquals(0.5f, back[3], 2f * 0.01f, "0.25 of the block's absmax, within the map's step there");
    }
}
