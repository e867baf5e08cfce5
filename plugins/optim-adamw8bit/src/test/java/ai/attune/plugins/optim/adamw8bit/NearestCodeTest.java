package ai.attune.plugins.optim.adamw8bit;

import ai.attune.api.quant.DynamicMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * {@link NearestCode} against {@link DynamicMap#quantize}, the binary search it replaces, on both
 * maps: every float within 4,096 ulps of each code value and of each midpoint between neighbours
 * (where the answer changes), of every table cell's edges, the special values, and every 251st
 * bit pattern of all 2^32. {@code -Dattune.exhaustive=true} adds every float (a few minutes).
 */
class NearestCodeTest {
    private static final float[][] MAPS = {DynamicMap.signed(), DynamicMap.unsigned()};

    private static void same(float[] code, NearestCode nearest, float x) {
        assertEquals(DynamicMap.quantize(code, x), nearest.index(x), () -> "x = " + x + " (0x" + Integer.toHexString(Float.floatToRawIntBits(x)) + ")");
    }

    /** The floats from {@code ulps} below x to {@code ulps} above, by bit pattern, through zero and across the sign. */
    private static void around(float[] code, NearestCode nearest, float x, int ulps) {
        float down = x;
        float up = x;
        for (int i = 0; i < ulps; i++) {
            same(code, nearest, down);
            same(code, nearest, up);
            down = Math.nextDown(down);
            up = Math.nextUp(up);
        }
    }

    @Test
    void sameIndexAsTheSearchAroundEveryCodeAndMidpoint() {
        for (float[] code : MAPS) {
            NearestCode nearest = new NearestCode(code);
            for (int i = 0; i < code.length; i++) {
                around(code, nearest, code[i], 4096);
                if (i + 1 < code.length) {
                    around(code, nearest, (code[i] + code[i + 1]) * 0.5f, 4096);
                }
            }
            for (float x : new float[] {0f, -0f, 1f, -1f, 2f, -2f, Float.MIN_VALUE, -Float.MIN_VALUE, Float.MAX_VALUE, -Float.MAX_VALUE,
                    Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN, Float.intBitsToFloat(0xFFC00000), Float.intBitsToFloat(0x7F800001)}) {
                same(code, nearest, x);
            }
        }
    }

    @Test
    void sameIndexAsTheSearchAtEveryCellEdgeAndOnASampleOfAllFloats() {
        for (float[] code : MAPS) {
            NearestCode nearest = new NearestCode(code);
            for (int cell = 0; cell < 1 << 16; cell++) {
                for (int low = 0; low < 4; low++) {
                    same(code, nearest, Float.intBitsToFloat((cell << 16) | low));
                    same(code, nearest, Float.intBitsToFloat((cell << 16) | (0xFFFF - low)));
                }
            }
            for (long bits = 0; bits <= 0xFFFFFFFFL; bits += 251) {
                same(code, nearest, Float.intBitsToFloat((int) bits));
            }
        }
    }

    @Test
    @EnabledIfSystemProperty(named = "attune.exhaustive", matches = "true")
    void sameIndexAsTheSearchOnEveryFloat() {
        for (float[] code : MAPS) {
            NearestCode nearest = new NearestCode(code);
            AtomicLong mismatches = new AtomicLong();
            IntStream.range(0, 1 << 16).parallel().forEach(high -> {
                for (int low = 0; low < 1 << 16; low++) {
                    float x = Float.intBitsToFloat((high << 16) | low);
                    if (nearest.index(x) != DynamicMap.quantize(code, x)) {
                        mismatches.incrementAndGet();
                    }
                }
            });
            assertEquals(0, mismatches.get(), "floats whose index differs from the search's");
        }
    }
}
