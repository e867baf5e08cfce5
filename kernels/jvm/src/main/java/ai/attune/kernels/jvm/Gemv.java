package ai.attune.kernels.jvm;

import ai.attune.kernels.jvm.parallel.Parallel;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.concurrent.ExecutorService;

/**
 * f32 matrix products with very few rows of A (decoding one token at a time). A packed GEMM would
 * copy all of B for one row of output; here each output is a dot product streamed straight from B,
 * so the cost is one pass over the weights, which is what bounds decoding anyway.
 * Computes {@code C[i, j] = sum_p A[i, p] * B(p, j)} for B given as [n, k] rows (transB, the
 * layout of a Linear weight) or as [k, n] rows.
 */
final class Gemv {
    /** Rows of A up to which this path beats packing. */
    static final int MAX_ROWS = 4;

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    /** Below this many multiply-adds a second thread costs more than it saves. */
    private static final long MIN_PARALLEL = 1L << 16;

    private Gemv() {}

    static void gemv(ExecutorService pool, int threads, boolean transB, int m, int n, int k,
                     MemorySegment a, long aOff, int lda, MemorySegment b, long bOff, int ldb, MemorySegment c, long cOff, int ldc) {
        int parts = (long) n * k * m < MIN_PARALLEL ? 1 : Math.min(threads, n);
        if (parts <= 1) {
            range(transB, m, 0, n, k, a, aOff, lda, b, bOff, ldb, c, cOff, ldc);
            return;
        }
        int chunk = (n + parts - 1) / parts;
        // Column ranges are multiples of the vector length so the [k, n] layout's vector loads stay whole.
        int width = (chunk + S.length() - 1) / S.length() * S.length();
        int units = (n + width - 1) / width;
        Parallel.forEach(pool, parts, units, () -> null, x -> { }, (u, x) ->
                range(transB, m, u * width, Math.min(n, (u + 1) * width), k, a, aOff, lda, b, bOff, ldb, c, cOff, ldc));
    }

    private static void range(boolean transB, int m, int j0, int j1, int k, MemorySegment a, long aOff, int lda,
                              MemorySegment b, long bOff, int ldb, MemorySegment c, long cOff, int ldc) {
        for (int i = 0; i < m; i++) {
            long ai = (aOff + (long) i * lda) * 4;
            long ci = cOff + (long) i * ldc;
            if (transB) {
                for (int j = j0; j < j1; j++) {
                    c.setAtIndex(Elements.F32, ci + j, dot(a, ai, b, (bOff + (long) j * ldb) * 4, k));
                }
            } else {
                axpyRows(a, ai, b, bOff, ldb, c, ci, j0, j1, k);
            }
        }
    }

    /** {@code sum_p x[p] * y[p]} over k floats at byte offsets xo, yo. */
    private static float dot(MemorySegment x, long xo, MemorySegment y, long yo, int k) {
        FloatVector acc0 = FloatVector.zero(S);
        FloatVector acc1 = FloatVector.zero(S);
        int step = S.length();
        int p = 0;
        for (; p + 2 * step <= k; p += 2 * step) {
            acc0 = FloatVector.fromMemorySegment(S, x, xo + p * 4L, LE).fma(FloatVector.fromMemorySegment(S, y, yo + p * 4L, LE), acc0);
            acc1 = FloatVector.fromMemorySegment(S, x, xo + (p + step) * 4L, LE)
                    .fma(FloatVector.fromMemorySegment(S, y, yo + (p + step) * 4L, LE), acc1);
        }
        float sum = VectorMath.sum(acc0.add(acc1));
        for (; p < k; p++) {
            sum += x.get(Elements.F32, xo + p * 4L) * y.get(Elements.F32, yo + p * 4L);
        }
        return sum;
    }

    /** {@code c[j] = sum_p a[p] * b[p, j]} for j in [j0, j1): rows of B scaled and added. */
    private static void axpyRows(MemorySegment a, long ai, MemorySegment b, long bOff, int ldb, MemorySegment c, long ci,
                                 int j0, int j1, int k) {
        int width = j1 - j0;
        float[] acc = new float[width];
        int step = S.length();
        for (int p = 0; p < k; p++) {
            float s = a.get(Elements.F32, ai + p * 4L);
            long row = (bOff + (long) p * ldb + j0) * 4;
            int j = 0;
            for (; j + step <= width; j += step) {
                FloatVector.fromMemorySegment(S, b, row + j * 4L, LE)
                        .fma(FloatVector.broadcast(S, s), FloatVector.fromArray(S, acc, j)).intoArray(acc, j);
            }
            for (; j < width; j++) {
                acc[j] += s * b.get(Elements.F32, row + j * 4L);
            }
        }
        for (int j = 0; j < width; j++) {
            c.setAtIndex(Elements.F32, ci + j0 + j, acc[j]);
        }
    }
}
