package ai.attune.api.quant;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The signed and unsigned 8-bit dynamic maps against their closed forms, and the nearest-value search. */
class DynamicMapTest {
    /**
     * Closed form, in exact arithmetic: for e = 0..6 and j = 0..2^e - 1, ±10^(e-6) · (0.1 + 0.9 (j + ½) / 2^e),
     * the midpoints of 2^e equal steps from 0.1 to 1 at decimal exponent e - 6; then 0 and 1.
     */
    private static double[] closedFormSigned() {
        List<Double> v = new ArrayList<>();
        for (int e = 0; e < 7; e++) {
            for (int j = 0; j < (1 << e); j++) {
                double m = Math.pow(10, e - 6) * (0.1 + 0.9 * (j + 0.5) / (1 << e));
                v.add(m);
                v.add(-m);
            }
        }
        v.add(0.0);
        v.add(1.0);
        return v.stream().mapToDouble(Double::doubleValue).sorted().toArray();
    }

    @Test
    void all256ValuesMatchTheClosedForm() {
        double[] expected = closedFormSigned();
        float[] code = DynamicMap.signed();
        assertEquals(256, expected.length);
        assertEquals(256, code.length);
        for (int i = 0; i < 256; i++) {
            assertEquals(expected[i], code[i], Math.abs(expected[i]) * 3e-7, "value " + i); // a few float32 roundings
        }
        for (int i = 1; i < 256; i++) {
            assertTrue(code[i - 1] < code[i], "strictly ascending at " + i);
        }
        assertEquals(0f, code[127]);
        assertEquals(1f, code[255]);
        assertEquals(-0.99296875, code[0], 1e-7, "-(0.1 + 0.9 * 63.5 / 64)");
        assertEquals(5.5e-7, code[128], 1e-13, "10^-6 * 0.55, the smallest positive value");
    }

    @Test
    void everyValueCodesToItself() {
        float[] code = DynamicMap.signed();
        for (int k = 0; k < 256; k++) {
            assertEquals(k, DynamicMap.quantize(code, code[k]), "value " + code[k]);
        }
    }

    /**
     * Seven halving steps from 127 (odd) by 64, 32, ..., 1 always end on an even index, and a value
     * exactly between two neighbours keeps that last pivot: ties go to the even index.
     */
    @Test
    void nearestValueWithTheKernelsTies() {
        float[] code = DynamicMap.signed();
        for (int k = 0; k < 255; k++) {
            float mid = (code[k] + code[k + 1]) * 0.5f;
            assertEquals(k % 2 == 0 ? k : k + 1, DynamicMap.quantize(code, mid), "tie between " + k + " and " + (k + 1));
            assertEquals(k + 1, DynamicMap.quantize(code, Math.nextUp(mid)));
            assertEquals(k, DynamicMap.quantize(code, Math.nextDown(mid)));
        }
        assertEquals(0, DynamicMap.quantize(code, -1f));
        assertEquals(255, DynamicMap.quantize(code, 1f));
    }

    /**
     * Closed form of the unsigned map: for e = 0..6 and j = 0..2^(e+1) - 1, 10^(e-6) · (0.1 + 0.9 (j + ½) / 2^(e+1)),
     * twice as many steps per decimal exponent as the signed map, none negative; then 0 and 1.
     */
    private static double[] closedFormUnsigned() {
        List<Double> v = new ArrayList<>();
        for (int e = 0; e < 7; e++) {
            int k = 1 << (e + 1);
            for (int j = 0; j < k; j++) {
                v.add(Math.pow(10, e - 6) * (0.1 + 0.9 * (j + 0.5) / k));
            }
        }
        v.add(0.0);
        v.add(1.0);
        return v.stream().mapToDouble(Double::doubleValue).sorted().toArray();
    }

    @Test
    void unsignedMapMatchesItsClosedForm() {
        double[] expected = closedFormUnsigned();
        float[] code = DynamicMap.unsigned();
        assertEquals(256, expected.length);
        assertEquals(256, code.length);
        for (int i = 0; i < 256; i++) {
            assertEquals(expected[i], code[i], Math.abs(expected[i]) * 3e-7, "value " + i);
        }
        for (int i = 1; i < 256; i++) {
            assertTrue(code[i - 1] < code[i], "strictly ascending at " + i);
        }
        assertEquals(0f, code[0]);
        assertEquals(1f, code[255]);
        assertEquals(3.25e-7, code[1], 1e-13, "10^-6 * (0.1 + 0.9 * 0.5 / 2), the smallest positive value");
        assertEquals(0.996484375, code[254], 1e-7, "0.1 + 0.9 * 127.5 / 128");
    }

    @Test
    void unsignedSearchFindsTheNearestValue() {
        float[] code = DynamicMap.unsigned();
        for (int k = 0; k < 256; k++) {
            assertEquals(k, DynamicMap.quantize(code, code[k]), "value " + code[k]);
        }
        for (int k = 0; k < 255; k++) {
            float mid = (code[k] + code[k + 1]) * 0.5f;
            assertEquals(k % 2 == 0 ? k : k + 1, DynamicMap.quantize(code, mid), "tie between " + k + " and " + (k + 1));
            assertEquals(k + 1, DynamicMap.quantize(code, Math.nextUp(mid)));
            assertEquals(k, DynamicMap.quantize(code, Math.nextDown(mid)));
        }
        assertEquals(0, DynamicMap.quantize(code, 0f));
    }
}
