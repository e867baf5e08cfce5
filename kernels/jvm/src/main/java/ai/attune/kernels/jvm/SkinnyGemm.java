package ai.attune.kernels.jvm;

import ai.attune.kernels.jvm.parallel.Parallel;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.concurrent.ExecutorService;

/**
 * f32 products whose output has very few columns: {@code C[m, n] = op(A)[m, k] @ op(B)[k, n]} for
 * n up to {@value #MAX_N}, the shape of a LoRA adapter's rank-r products (x·Aᵀ, g·B, gᵀ·h). The
 * packed GEMM pads n to its micro-tile and copies all of A into panels for a few columns of work,
 * so these ran at a few GFLOP/s; here op(B) is copied once into n rows of k floats (small), and A
 * is streamed once, straight from memory:
 * <ul>
 *   <li>A's rows contiguous: each row of C is n dot products of A's row (read from L1 after the
 *       first) with those rows, four at a time;</li>
 *   <li>A transposed (A is [k, m]): C's columns for a vector of rows i are accumulated over p from
 *       A's row p, each B value broadcast.</li>
 * </ul>
 * Every element of C is summed by one thread in a fixed order, so results do not depend on the
 * thread count.
 */
final class SkinnyGemm {
    /** Output columns up to which this path beats packing. */
    static final int MAX_N = 16;
    /** Below this many multiply-adds the packed GEMM's overhead is small anyway. */
    private static final long MIN_WORK = 1L << 15;
    /** Below this many multiply-adds per thread a second thread costs more than it saves. */
    private static final long MIN_PARALLEL = 1L << 17;

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int VL = S.length();
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    private SkinnyGemm() {}

    static boolean applies(int m, int n, int k) {
        return n <= MAX_N && (long) m * n * k >= MIN_WORK;
    }

    /** Element offsets and leading dims as {@link Gemv} takes them; C is row-major with leading dim ldc. */
    static void gemm(ExecutorService pool, int threads, boolean transA, boolean transB, int m, int n, int k,
                     MemorySegment a, long aOff, int lda, MemorySegment b, long bOff, int ldb, MemorySegment c, long cOff, int ldc) {
        float[] bt = columnsOf(transB, n, k, b, bOff, ldb); // [n, k]: op(B)'s columns as rows
        // Units of rows: one row for dot products, one vector of rows for the transposed A.
        int unit = transA ? VL : 1;
        int units = (m + unit - 1) / unit;
        int parts = (int) Math.max(1, Math.min(threads, (long) m * n * k / MIN_PARALLEL));
        int per = (units + parts - 1) / parts;
        Parallel.forEach(pool, parts, parts, () -> null, x -> { }, (t, x) -> {
            int i0 = Math.min(m, t * per * unit);
            int i1 = Math.min(m, (t + 1) * per * unit);
            if (transA) {
                columnsOverRows(i0, i1, n, k, a, aOff, lda, bt, c, cOff, ldc);
            } else {
                dotRows(i0, i1, n, k, a, aOff, lda, bt, c, cOff, ldc);
            }
        });
    }

    /** {@code bt[j * k + p] = op(B)[p, j]}. */
    private static float[] columnsOf(boolean transB, int n, int k, MemorySegment b, long bOff, int ldb) {
        float[] bt = new float[n * k];
        for (int j = 0; j < n; j++) {
            for (int p = 0; p < k; p++) {
                long at = transB ? bOff + (long) j * ldb + p : bOff + (long) p * ldb + j;
                bt[j * k + p] = b.getAtIndex(Elements.F32, at);
            }
        }
        return bt;
    }

    /** Rows [i0, i1) of C for A's rows contiguous: C[i, j] = A[i, :] · bt[j, :]. */
    private static void dotRows(int i0, int i1, int n, int k, MemorySegment a, long aOff, int lda, float[] bt,
                                MemorySegment c, long cOff, int ldc) {
        for (int i = i0; i < i1; i++) {
            long ai = (aOff + (long) i * lda) * 4;
            long ci = cOff + (long) i * ldc;
            int j = 0;
            for (; j + 4 <= n; j += 4) {
                dot4(a, ai, bt, j * k, k, c, ci + j);
            }
            for (; j < n; j++) {
                c.setAtIndex(Elements.F32, ci + j, dot(a, ai, bt, j * k, k));
            }
        }
    }

    /** Four dot products of one row of A with bt's rows at y, y + k, y + 2k, y + 3k, into c[ci..ci+3]. */
    private static void dot4(MemorySegment a, long ai, float[] bt, int y, int k, MemorySegment c, long ci) {
        FloatVector s0 = FloatVector.zero(S);
        FloatVector s1 = FloatVector.zero(S);
        FloatVector s2 = FloatVector.zero(S);
        FloatVector s3 = FloatVector.zero(S);
        int p = 0;
        for (; p + VL <= k; p += VL) {
            FloatVector x = FloatVector.fromMemorySegment(S, a, ai + p * 4L, LE);
            s0 = x.fma(FloatVector.fromArray(S, bt, y + p), s0);
            s1 = x.fma(FloatVector.fromArray(S, bt, y + k + p), s1);
            s2 = x.fma(FloatVector.fromArray(S, bt, y + 2 * k + p), s2);
            s3 = x.fma(FloatVector.fromArray(S, bt, y + 3 * k + p), s3);
        }
        float r0 = VectorMath.sum(s0);
        float r1 = VectorMath.sum(s1);
        float r2 = VectorMath.sum(s2);
        float r3 = VectorMath.sum(s3);
        for (; p < k; p++) {
            float x = a.get(Elements.F32, ai + p * 4L);
            r0 += x * bt[y + p];
            r1 += x * bt[y + k + p];
            r2 += x * bt[y + 2 * k + p];
            r3 += x * bt[y + 3 * k + p];
        }
        c.setAtIndex(Elements.F32, ci, r0);
        c.setAtIndex(Elements.F32, ci + 1, r1);
        c.setAtIndex(Elements.F32, ci + 2, r2);
        c.setAtIndex(Elements.F32, ci + 3, r3);
    }

    private static float dot(MemorySegment a, long ai, float[] bt, int y, int k) {
        FloatVector s = FloatVector.zero(S);
        int p = 0;
        for (; p + VL <= k; p += VL) {
            s = FloatVector.fromMemorySegment(S, a, ai + p * 4L, LE).fma(FloatVector.fromArray(S, bt, y + p), s);
        }
        float r = VectorMath.sum(s);
        for (; p < k; p++) {
            r += a.get(Elements.F32, ai + p * 4L) * bt[y + p];
        }
        return r;
    }

    /**
     * Rows [i0, i1) of C for A transposed (op(A)[i, p] = A[p * lda + i]): for a vector of rows and
     * four columns at a time, the sums over p stay in registers while A's rows p stream by (the
     * vector's slice of A, k × 64 bytes, is read again from cache for each four columns).
     */
    private static void columnsOverRows(int i0, int i1, int n, int k, MemorySegment a, long aOff, int lda, float[] bt,
                                        MemorySegment c, long cOff, int ldc) {
        float[] lanes = new float[VL];
        for (int i = i0; i < i1; i += VL) {
            int width = Math.min(VL, i1 - i);
            if (width < VL) {
                tail(i, width, n, k, a, aOff, lda, bt, c, cOff, ldc);
                continue;
            }
            int j = 0;
            for (; j + 4 <= n; j += 4) {
                FloatVector s0 = FloatVector.zero(S);
                FloatVector s1 = FloatVector.zero(S);
                FloatVector s2 = FloatVector.zero(S);
                FloatVector s3 = FloatVector.zero(S);
                int y = j * k;
                for (int p = 0; p < k; p++) {
                    FloatVector x = FloatVector.fromMemorySegment(S, a, (aOff + (long) p * lda + i) * 4, LE);
                    s0 = x.fma(FloatVector.broadcast(S, bt[y + p]), s0);
                    s1 = x.fma(FloatVector.broadcast(S, bt[y + k + p]), s1);
                    s2 = x.fma(FloatVector.broadcast(S, bt[y + 2 * k + p]), s2);
                    s3 = x.fma(FloatVector.broadcast(S, bt[y + 3 * k + p]), s3);
                }
                store(s0, lanes, c, cOff, ldc, i, j);
                store(s1, lanes, c, cOff, ldc, i, j + 1);
                store(s2, lanes, c, cOff, ldc, i, j + 2);
                store(s3, lanes, c, cOff, ldc, i, j + 3);
            }
            for (; j < n; j++) {
                FloatVector s0 = FloatVector.zero(S);
                int y = j * k;
                for (int p = 0; p < k; p++) {
                    s0 = FloatVector.fromMemorySegment(S, a, (aOff + (long) p * lda + i) * 4, LE).fma(FloatVector.broadcast(S, bt[y + p]), s0);
                }
                store(s0, lanes, c, cOff, ldc, i, j);
            }
        }
    }

    /** Column j of C for the VL rows from i: lane l is C[i + l, j]. */
    private static void store(FloatVector v, float[] lanes, MemorySegment c, long cOff, int ldc, int i, int j) {
        v.intoArray(lanes, 0);
        for (int l = 0; l < VL; l++) {
            c.setAtIndex(Elements.F32, cOff + (long) (i + l) * ldc + j, lanes[l]);
        }
    }

    /** The last rows, fewer than a vector, one product at a time in the vector path's order of p. */
    private static void tail(int i, int width, int n, int k, MemorySegment a, long aOff, int lda, float[] bt,
                             MemorySegment c, long cOff, int ldc) {
        for (int l = 0; l < width; l++) {
            for (int j = 0; j < n; j++) {
                float sum = 0;
                for (int p = 0; p < k; p++) {
                    sum = Math.fma(a.getAtIndex(Elements.F32, aOff + (long) p * lda + i + l), bt[j * k + p], sum);
                }
                c.setAtIndex(Elements.F32, cOff + (long) (i + l) * ldc + j, sum);
            }
        }
    }
}
