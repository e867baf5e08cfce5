package ai.attune.kernels.jvm;

import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The deterministic vector exp and tanh against java.lang.Math in double, rounded to float. */
class VectorMathTest {
    private static final jdk.incubator.vector.VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

    @Test
    void expIsWithinTwoUlpOverItsRange() {
        Random r = new Random(1);
        float[] x = new float[S.length()];
        float[] y = new float[S.length()];
        double worst = 0;
        for (int round = 0; round < 4000; round++) {
            for (int i = 0; i < x.length; i++) {
                x[i] = (float) (r.nextDouble() * 174 - 87);
            }
            VectorMath.exp(FloatVector.fromArray(S, x, 0)).intoArray(y, 0);
            for (int i = 0; i < x.length; i++) {
                float want = (float) Math.exp(x[i]);
                worst = Math.max(worst, Math.abs(y[i] - want) / Math.ulp(want));
            }
        }
        assertTrue(worst <= 2, "worst error " + worst + " ulp");
    }

    @Test
    void expEdges() {
        float[] x = new float[S.length()];
        float[] y = new float[S.length()];
        float[] in = {0f, -0f, 1f, -100f, 100f, Float.NaN, Float.NEGATIVE_INFINITY, Float.POSITIVE_INFINITY};
        System.arraycopy(in, 0, x, 0, Math.min(in.length, x.length));
        VectorMath.exp(FloatVector.fromArray(S, x, 0)).intoArray(y, 0);
        assertEquals(1f, y[0]);
        assertEquals(1f, y[1]);
        assertEquals((float) Math.E, y[2], Math.ulp((float) Math.E) * 2);
        if (S.length() >= 8) {
            assertEquals(0f, y[3]);
            assertEquals(Float.POSITIVE_INFINITY, y[4]);
            assertTrue(Float.isNaN(y[5]));
            assertEquals(0f, y[6]);
            assertEquals(Float.POSITIVE_INFINITY, y[7]);
        }
    }

    @Test
    void tanhSaturatesAndMatches() {
        float[] x = new float[S.length()];
        float[] y = new float[S.length()];
        for (int i = 0; i < x.length; i++) {
            x[i] = -20f + 40f * i / (x.length - 1);
        }
        VectorMath.tanh(FloatVector.fromArray(S, x, 0)).intoArray(y, 0);
        for (int i = 0; i < x.length; i++) {
            assertEquals(Math.tanh(x[i]), y[i], 2e-7, "tanh(" + x[i] + ")");
        }
    }

    @Test
    void onePlusErfIsWithinTheAbramowitzStegunBound() {
        float[] x = new float[S.length()];
        float[] y = new float[S.length()];
        double worst = 0;
        for (int k = 0; k <= 12000; k += x.length) {
            for (int i = 0; i < x.length; i++) {
                x[i] = -6f + (k + i) / 1000f;
            }
            VectorMath.onePlusErf(FloatVector.fromArray(S, x, 0)).intoArray(y, 0);
            for (int i = 0; i < x.length; i++) {
                worst = Math.max(worst, Math.abs(y[i] - (1 + Erf.erf(x[i]))));
            }
        }
        // 1.5e-7 of the approximation, plus f32 rounding of values up to 2
        assertTrue(worst <= 1.5e-7 + 2.4e-7, "worst error " + worst);
        x[0] = Float.NaN;
        x[1] = Float.NEGATIVE_INFINITY;
        x[2] = Float.POSITIVE_INFINITY;
        VectorMath.onePlusErf(FloatVector.fromArray(S, x, 0)).intoArray(y, 0);
        assertTrue(Float.isNaN(y[0]));
        assertEquals(0f, y[1]);
        assertEquals(2f, y[2]);
    }

    @Test
    void sumAddsLeftToRight() {
        float[] v = new float[S.length()];
        v[0] = 1e8f;
        v[1] = 1f;
        v[2] = -1e8f;
        float want = 0f;
        for (float f : v) {
            want += f;
        }
        assertEquals(want, VectorMath.sum(FloatVector.fromArray(S, v, 0)));
    }
}
