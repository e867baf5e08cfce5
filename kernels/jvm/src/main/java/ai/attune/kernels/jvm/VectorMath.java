package ai.attune.kernels.jvm;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Lane-wise math whose results do not depend on the JIT. The Vector API leaves the order of
 * {@code reduceLanes(ADD)} and the algorithm of {@code lanewise(EXP)} to the implementation: the
 * interpreter and compiled code give different last bits, so a training step would depend on
 * when the JIT kicked in and a resumed run would not reproduce an uninterrupted one. These use
 * only IEEE operations (add, mul, fma, exact conversions), which every tier computes the same.
 */
final class VectorMath {
    private static final float LOG2E = 1.44269504088896341f;
    private static final float LN2_HI = 0.693145751953125f;
    private static final float LN2_LO = 1.42860682030941723212e-6f;
    /** Adding and subtracting 1.5 * 2^23 rounds a float of magnitude below 2^22 to the nearest integer. */
    private static final float ROUND = 12582912f;
    private static final float UNDERFLOW = -87.33654f;
    private static final float OVERFLOW = 88.3762f;

    private VectorMath() {}

    /**
     * e^x to about 2 ulp: x = n ln2 + r with |r| <= ln2/2, e^r by its Taylor series to r^7
     * (truncation error below 2e-8 relative), times 2^n built from the exponent bits.
     */
    static FloatVector exp(FloatVector x) {
        FloatVector xc = x.max(UNDERFLOW).min(OVERFLOW);
        FloatVector n = xc.mul(LOG2E).add(ROUND).sub(ROUND);
        FloatVector r = n.fma(FloatVector.broadcast(x.species(), -LN2_HI), xc);
        r = n.fma(FloatVector.broadcast(x.species(), -LN2_LO), r);
        FloatVector p = FloatVector.broadcast(x.species(), 1f / 5040);
        p = p.fma(r, FloatVector.broadcast(x.species(), 1f / 720));
        p = p.fma(r, FloatVector.broadcast(x.species(), 1f / 120));
        p = p.fma(r, FloatVector.broadcast(x.species(), 1f / 24));
        p = p.fma(r, FloatVector.broadcast(x.species(), 1f / 6));
        p = p.fma(r, FloatVector.broadcast(x.species(), 0.5f));
        p = p.fma(r, FloatVector.broadcast(x.species(), 1f));
        p = p.fma(r, FloatVector.broadcast(x.species(), 1f));
        IntVector bits = ((IntVector) n.convert(VectorOperators.F2I, 0)).add(127).lanewise(VectorOperators.LSHL, 23);
        FloatVector e = p.mul(bits.reinterpretAsFloats());
        e = e.blend(0f, x.lt(UNDERFLOW));
        e = e.blend(Float.POSITIVE_INFINITY, x.compare(VectorOperators.GT, OVERFLOW));
        return e.blend(x, x.test(VectorOperators.IS_NAN));
    }

    /** tanh(x) = 1 - 2 / (e^{2x} + 1), which saturates to +-1 without overflow trouble. */
    static FloatVector tanh(FloatVector x) {
        FloatVector one = FloatVector.broadcast(x.species(), 1f);
        return one.sub(FloatVector.broadcast(x.species(), 2f).div(exp(x.add(x)).add(one)));
    }

    /**
     * 1 + erf(z) to 1.5e-7 absolute: Abramowitz and Stegun 7.1.26, erfc|z| = t (a1 + t (a2 + t (a3
     * + t (a4 + t a5)))) e^(-z^2) with t = 1 / (1 + p|z|), the approximation ATen's vectorized CPU
     * erf uses. Formed as 2 - erfc(z) for z >= 0 and erfc(-z) below, so that GELU's left tail,
     * 0.5 x (1 + erf(x / sqrt 2)), does not come from a difference of nearly equal numbers.
     */
    static FloatVector onePlusErf(FloatVector z) {
        VectorSpecies<Float> s = z.species();
        FloatVector one = FloatVector.broadcast(s, 1f);
        FloatVector t = one.div(z.abs().fma(FloatVector.broadcast(s, 0.3275911f), one));
        FloatVector p = FloatVector.broadcast(s, 1.061405429f);
        p = p.fma(t, FloatVector.broadcast(s, -1.453152027f));
        p = p.fma(t, FloatVector.broadcast(s, 1.421413741f));
        p = p.fma(t, FloatVector.broadcast(s, -0.284496736f));
        p = p.fma(t, FloatVector.broadcast(s, 0.254829592f));
        FloatVector erfcAbs = p.mul(t).mul(exp(z.mul(z).neg()));
        return FloatVector.broadcast(s, 2f).sub(erfcAbs).blend(erfcAbs, z.lt(0f));
    }

    /** The lanes' sum, added left to right. */
    static float sum(FloatVector v) {
        float s = 0f;
        for (int i = 0; i < v.length(); i++) {
            s += v.lane(i);
        }
        return s;
    }
}
