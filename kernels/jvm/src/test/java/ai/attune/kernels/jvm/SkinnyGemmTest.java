package ai.attune.kernels.jvm;

import ai.attune.kernels.jvm.gemm.ElementType;
import ai.attune.kernels.jvm.gemm.ScalarGemm;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The narrow-output path against the scalar GEMM reference: every transpose, n from 1 to 16, k and
 * m not multiples of the vector length, leading dims wider than the matrices; and the same bits
 * on one thread as on three.
 */
class SkinnyGemmTest {
    private static final ExecutorService POOL = Executors.newFixedThreadPool(3);

    @AfterAll
    static void stop() {
        POOL.shutdown();
    }

    @Test
    void equalsTheScalarReferenceForEveryTransposeAndWidth() {
        Random r = new Random(7);
        int[][] mk = {{1024, 768}, {257, 131}, {33, 1000}, {100, 17}, {5, 4099}};
        for (int[] s : mk) {
            for (int n = 1; n <= SkinnyGemm.MAX_N; n += (n < 4 ? 1 : 3)) {
                for (boolean transA : new boolean[] {false, true}) {
                    for (boolean transB : new boolean[] {false, true}) {
                        check(r, s[0], n, s[1], transA, transB);
                    }
                }
            }
        }
    }

    private static void check(Random r, int m, int n, int k, boolean transA, boolean transB) {
        int lda = (transA ? m : k) + 3;
        int ldb = (transB ? k : n) + 5;
        MemorySegment a = random(r, (long) (transA ? k : m) * lda);
        MemorySegment b = random(r, (long) (transB ? n : k) * ldb);
        long aOff = 2;
        long bOff = 1;
        MemorySegment want = Arena.ofAuto().allocate((long) m * n * 4, 64);
        ScalarGemm.gemm(transA, transB, m, n, k, 1f, a, aOff, lda, ElementType.F32, b, bOff, ldb, ElementType.F32, 0f, want, 0, n);
        MemorySegment one = Arena.ofAuto().allocate((long) m * n * 4, 64);
        MemorySegment three = Arena.ofAuto().allocate((long) m * n * 4, 64);
        SkinnyGemm.gemm(POOL, 1, transA, transB, m, n, k, a, aOff, lda, b, bOff, ldb, one, 0, n);
        SkinnyGemm.gemm(POOL, 3, transA, transB, m, n, k, a, aOff, lda, b, bOff, ldb, three, 0, n);
        float[] w = want.toArray(Elements.F32);
        float[] g = one.toArray(Elements.F32);
        String at = m + "x" + n + "x" + k + (transA ? " Aᵀ" : "") + (transB ? " Bᵀ" : "");
        assertArrayEquals(g, three.toArray(Elements.F32), at + ": one thread and three differ");
        double tol = 1e-5 * Math.sqrt(k) * 4; // f32 sums of k products of values in [-1, 1], in another order
        for (int i = 0; i < w.length; i++) {
            assertTrue(Math.abs(w[i] - g[i]) <= tol, at + " at " + i + ": " + g[i] + " vs " + w[i]);
        }
    }

    private static MemorySegment random(Random r, long floats) {
        MemorySegment s = Arena.ofAuto().allocate(floats * 4 + 64, 64);
        for (long i = 0; i < floats; i++) {
            s.setAtIndex(Elements.F32, i, r.nextFloat() * 2 - 1);
        }
        return s;
    }
}
