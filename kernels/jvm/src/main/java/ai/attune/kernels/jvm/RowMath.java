package ai.attune.kernels.jvm;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/**
 * Reductions over one contiguous f32 row, in an order fixed by the row's length alone. The lanes
 * add {@link #SPAN} floats in f32, each span's lanes are added left to right ({@link
 * VectorMath#sum}) and the spans and the scalar tail in double. So a row statistic does not depend
 * on the thread that computes it or on the JIT, and the sum over a 32000-class row carries the
 * rounding of 64 f32 additions per lane rather than 2000.
 */
final class RowMath {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    /** Floats per span: a multiple of every vector length. */
    static final int SPAN = 1024;

    private RowMath() {}

    /** The row's largest value; NaN if it holds one. Max is exact, so the lanes' order does not matter. */
    static float max(MemorySegment s, long base, int n) {
        int bound = F.loopBound(n);
        FloatVector acc = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
        int j = 0;
        for (; j < bound; j += F.length()) {
            acc = acc.max(FloatVector.fromMemorySegment(F, s, base + j * 4L, LE));
        }
        float m = acc.reduceLanes(VectorOperators.MAX);
        for (; j < n; j++) {
            m = Math.max(m, s.get(Elements.F32, base + j * 4L));
        }
        return m;
    }

    /** sum_j e^(x_j - shift): the softmax denominator for shift = max. */
    static double sumExp(MemorySegment s, long base, int n, float shift) {
        int bound = F.loopBound(n);
        double total = 0;
        int j = 0;
        while (j < bound) {
            int end = Math.min(bound, j + SPAN);
            FloatVector acc = FloatVector.zero(F);
            for (; j < end; j += F.length()) {
                acc = acc.add(VectorMath.exp(FloatVector.fromMemorySegment(F, s, base + j * 4L, LE).sub(shift)));
            }
            total += VectorMath.sum(acc);
        }
        for (; j < n; j++) {
            total += StrictMath.exp(s.get(Elements.F32, base + j * 4L) - (double) shift);
        }
        return total;
    }

    /**
     * sum_j (x_j - shift). With shift a value of the row (its first), the f32 lanes add deviations
     * of the order of the row's spread, not of its mean: LayerNorm's mean of rows far from zero.
     */
    static double sum(MemorySegment s, long base, int n, float shift) {
        int bound = F.loopBound(n);
        double total = 0;
        int j = 0;
        while (j < bound) {
            int end = Math.min(bound, j + SPAN);
            FloatVector acc = FloatVector.zero(F);
            for (; j < end; j += F.length()) {
                acc = acc.add(FloatVector.fromMemorySegment(F, s, base + j * 4L, LE).sub(shift));
            }
            total += VectorMath.sum(acc);
        }
        for (; j < n; j++) {
            total += s.get(Elements.F32, base + j * 4L) - (double) shift;
        }
        return total;
    }

    /** sum_j a_j b_j. */
    static double dot(MemorySegment a, long aBase, MemorySegment b, long bBase, int n) {
        int bound = F.loopBound(n);
        double total = 0;
        int j = 0;
        while (j < bound) {
            int end = Math.min(bound, j + SPAN);
            FloatVector acc = FloatVector.zero(F);
            for (; j < end; j += F.length()) {
                FloatVector x = FloatVector.fromMemorySegment(F, a, aBase + j * 4L, LE);
                acc = x.fma(FloatVector.fromMemorySegment(F, b, bBase + j * 4L, LE), acc);
            }
            total += VectorMath.sum(acc);
        }
        for (; j < n; j++) {
            total += (double) a.get(Elements.F32, aBase + j * 4L) * b.get(Elements.F32, bBase + j * 4L);
        }
        return total;
    }

    /**
     * sum_j (x_j - mean)^2. The lanes subtract mean as an f32 pair hi + lo, so a row whose mean is
     * large next to its spread keeps its deviations exact rather than off by half an ulp of the mean.
     */
    static double sumSquaredDeviations(MemorySegment s, long base, int n, double mean) {
        float hi = (float) mean, lo = (float) (mean - hi);
        int bound = F.loopBound(n);
        double total = 0;
        int j = 0;
        while (j < bound) {
            int end = Math.min(bound, j + SPAN);
            FloatVector acc = FloatVector.zero(F);
            for (; j < end; j += F.length()) {
                FloatVector d = FloatVector.fromMemorySegment(F, s, base + j * 4L, LE).sub(hi).sub(lo);
                acc = d.fma(d, acc);
            }
            total += VectorMath.sum(acc);
        }
        for (; j < n; j++) {
            double d = s.get(Elements.F32, base + j * 4L) - mean;
            total += d * d;
        }
        return total;
    }
}
