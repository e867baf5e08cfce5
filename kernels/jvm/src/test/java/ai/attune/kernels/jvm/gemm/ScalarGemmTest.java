package ai.attune.kernels.jvm.gemm;

import java.lang.foreign.Arena;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import static ai.attune.kernels.jvm.gemm.Fixture.Matrix;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The scalar reference loop against the double oracle, and how {@link Gemm} selects it. */
class ScalarGemmTest {

    private static ExecutorService pool;

    @BeforeAll
    static void start() {
        pool = Executors.newFixedThreadPool(2);
    }

    @AfterAll
    static void stop() {
        pool.shutdownNow();
    }

    @Test
    void matchesOracle() {
        int[][] shapes = {{1, 1, 1}, {7, 13, 5}, {33, 65, 17}, {100, 1, 30}, {4, 5, 0}, {0, 3, 2}};
        float[][] alphaBeta = {{1, 0}, {0.5f, 1}, {-2, 0.25f}, {0, 3}};
        for (int[] s : shapes) {
            for (int t = 0; t < 4; t++) {
                for (float[] ab : alphaBeta) {
                    run(s[0], s[1], s[2], (t & 1) != 0, (t & 2) != 0, ab[0], ab[1], ElementType.F32, ElementType.F32);
                }
            }
        }
        run(9, 10, 11, false, true, 1f, 0f, ElementType.BF16, ElementType.F16);
        run(9, 10, 11, true, false, 1f, 1f, ElementType.F16, ElementType.BF16);
    }

    @Test
    void systemPropertySelectsTheScalarPath() {
        String old = System.getProperty("attune.jvm.scalar");
        try {
            System.setProperty("attune.jvm.scalar", "true");
            assertTrue(new Gemm(pool, 2).isScalar());
            System.setProperty("attune.jvm.scalar", "false");
            assertFalse(new Gemm(pool, 2).isScalar());
        } finally {
            if (old == null) {
                System.clearProperty("attune.jvm.scalar");
            } else {
                System.setProperty("attune.jvm.scalar", old);
            }
        }
    }

    @Test
    void scalarGemmInstanceMatchesOracle() {
        Gemm scalar = new Gemm(pool, 2, true);
        assertTrue(scalar.isScalar());
        GemmTest.run(scalar, 21, 34, 13, true, true, 1f, 0.5f, ElementType.F32, ElementType.BF16, 2, 1, 3);
    }

    private static void run(int m, int n, int k, boolean transA, boolean transB, float alpha, float beta,
                            ElementType aType, ElementType bType) {
        SplittableRandom rnd = new SplittableRandom(m * 7L + n * 3L + k);
        try (Arena arena = Arena.ofConfined()) {
            Matrix a = Fixture.matrix(arena, rnd, m, k, aType, transA, 2, 1, false);
            Matrix b = Fixture.matrix(arena, rnd, k, n, bType, transB, 1, 3, false);
            Matrix c = Fixture.matrix(arena, rnd, m, n, ElementType.F32, false, 3, 2, beta == 0f);
            Fixture.Expected want = Fixture.expect(a, b, c, alpha, beta);
            float[] before = Fixture.snapshot(c);
            ScalarGemm.gemm(transA, transB, m, n, k, alpha, a.seg(), a.off(), a.ld(), aType,
                    b.seg(), b.off(), b.ld(), bType, beta, c.seg(), c.off(), c.ld());
            Fixture.check(String.format("scalar %dx%dx%d tA=%b tB=%b alpha=%s beta=%s", m, n, k, transA, transB,
                    alpha, beta), want, c, before);
        }
    }
}
