package ai.attune.kernels.jvm.gemm;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import static ai.attune.kernels.jvm.gemm.Fixture.Matrix;

/** The SIMD path against the double-precision oracle. */
class GemmTest {

    private static final int MR = MicroKernel.MR;
    private static final int NR = MicroKernel.NR;
    private static final int KC = BlockedGemm.KC;

    private static ExecutorService pool;
    private static Gemm gemm;

    @BeforeAll
    static void start() {
        pool = Executors.newFixedThreadPool(2);
        gemm = new Gemm(pool, 2, false);
    }

    @AfterAll
    static void stop() {
        pool.shutdownNow();
    }

    /** Small and odd shapes, and shapes one past each register / cache block boundary. */
    static Stream<Arguments> shapes() {
        int[][] shapes = {
            {1, 1, 1}, {1, 1, 7}, {7, 13, 5}, {33, 65, 17}, {100, 1, 300}, {1, 100, 300}, {2, 3, 0},
            {MR, NR, 8}, {MR + 1, NR + 1, 9}, {MR - 1, NR - 1, 3}, {2 * MR + 1, 3 * NR - 1, 31},
            {17, 40, KC + 1}, {9, 33, 2 * KC + 3}, {BlockedGemm.MC + 1, 20, 11}, {50, BlockedGemm.NC + 1, 6},
            {130, 140, 150},
        };
        List<Arguments> out = new ArrayList<>();
        for (int[] s : shapes) {
            for (int t = 0; t < 4; t++) {
                out.add(Arguments.of(s[0], s[1], s[2], (t & 1) != 0, (t & 2) != 0));
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0}x{1}x{2} transA={3} transB={4}")
    @MethodSource("shapes")
    void matchesOracleAcrossShapesAndTransposes(int m, int n, int k, boolean transA, boolean transB) {
        run(m, n, k, transA, transB, 1f, 0f, ElementType.F32, ElementType.F32, 0, 0, 0);
    }

    @Test
    void alphaAndBetaVariants() {
        float[][] alphaBeta = {{1, 0}, {1, 1}, {0.5f, -2}, {-1, 0}, {2, 1}, {0, 0.5f}, {0, 0}, {0, 1}};
        for (float[] ab : alphaBeta) {
            run(29, 45, 19, false, true, ab[0], ab[1], ElementType.F32, ElementType.F32, 0, 0, 0);
            run(29, 45, KC + 7, true, false, ab[0], ab[1], ElementType.F32, ElementType.F32, 0, 0, 0);
        }
    }

    @Test
    void offsetsAndPaddedLeadingDimensions() {
        for (int t = 0; t < 4; t++) {
            run(23, 37, 29, (t & 1) != 0, (t & 2) != 0, 1.5f, 0.25f, ElementType.F32, ElementType.F32, 5, 3, 7);
            run(MR + 3, NR + 5, 40, (t & 1) != 0, (t & 2) != 0, 1f, 0f, ElementType.F32, ElementType.F32, 1, 17, 2);
        }
    }

    @Test
    void sixteenBitOperands() {
        ElementType[][] pairs = {
            {ElementType.BF16, ElementType.BF16}, {ElementType.F16, ElementType.F16},
            {ElementType.BF16, ElementType.F32}, {ElementType.F32, ElementType.F16},
        };
        for (ElementType[] types : pairs) {
            for (int t = 0; t < 4; t++) {
                run(19, 35, 27, (t & 1) != 0, (t & 2) != 0, 1f, 0f, types[0], types[1], 3, 2, 1);
                run(MR + 1, NR + 1, KC + 2, (t & 1) != 0, (t & 2) != 0, 0.5f, 1f, types[0], types[1], 0, 0, 0);
            }
        }
    }

    @Test
    void zeroSizesWriteNothingOrOnlyScaleC() {
        run(0, 5, 3, false, false, 1f, 0f, ElementType.F32, ElementType.F32, 0, 0, 0);
        run(5, 0, 3, false, false, 1f, 0f, ElementType.F32, ElementType.F32, 0, 0, 0);
        run(0, 0, 0, true, true, 1f, 0f, ElementType.F32, ElementType.F32, 0, 0, 0);
        // k = 0: C = beta * C, and beta = 0 clears garbage.
        run(6, 7, 0, false, false, 1f, 0f, ElementType.F32, ElementType.F32, 2, 0, 1);
        run(6, 7, 0, true, false, 1f, 3f, ElementType.BF16, ElementType.F32, 2, 0, 1);
    }

    @Test
    void largeEnoughToSplitAcrossThreads() {
        // Both split directions: m-major and n-major, with partial tiles at the split edge.
        // (Each half must be worth handing to another thread: 2*m*n*k above 2 * 2^23.)
        run(301, 90, 400, false, false, 1f, 0.5f, ElementType.F32, ElementType.F32, 0, 0, 0);
        run(40, 333, 700, true, true, 1f, 0.5f, ElementType.F32, ElementType.F32, 0, 0, 0);
    }

    @Test
    void singleThreadedInstanceGivesTheSameResults() {
        Gemm serial = new Gemm(pool, 1, false);
        run(serial, 150, 90, 70, false, true, 1f, 1f, ElementType.F32, ElementType.F32, 0, 0, 0);
    }

    @Test
    void confinedSegmentsRunOnTheCallingThread() {
        // Pool threads cannot touch a confined arena's memory; the call must not try.
        SplittableRandom rnd = new SplittableRandom(7);
        try (Arena arena = Arena.ofConfined()) {
            check(gemm, arena, rnd, 200, 200, 100, false, false, 1f, 0f, ElementType.F32, ElementType.F32, 0, 0, 0);
        }
    }

    /**
     * With a bias row, every element has the bits of the same GEMM followed by a separate f32 add:
     * edge tiles, k past one KC block (the bias joins after the last), beta != 0, 16-bit operands,
     * one thread and two, and the scalar reference path.
     */
    @Test
    void biasJoinsTheFinishedSum() {
        int[][] shapes = {{1, 1, 1}, {7, 13, 5}, {MR + 1, NR + 1, 9}, {17, 40, KC + 1}, {9, 33, 2 * KC + 3},
            {301, 90, 400}, {40, 333, 700}, {6, 7, 0}};
        Gemm[] gemms = {gemm, new Gemm(pool, 1, false), new Gemm(pool, 2, true)};
        for (Gemm g : gemms) {
            for (int[] s : shapes) {
                for (int t = 0; t < 4; t++) {
                    float beta = t == 3 ? 0.5f : 0f;
                    ElementType aType = t == 2 ? ElementType.BF16 : ElementType.F32;
                    checkBias(g, s[0], s[1], s[2], (t & 1) != 0, (t & 2) != 0, 1f, beta, aType);
                }
            }
        }
    }

    private static void checkBias(Gemm g, int m, int n, int k, boolean transA, boolean transB, float alpha, float beta,
                                  ElementType aType) {
        SplittableRandom rnd = new SplittableRandom(31L * m + 17L * n + k);
        try (Arena arena = Arena.ofShared()) {
            Matrix a = Fixture.matrix(arena, rnd, m, k, aType, transA, 1, 2, false);
            Matrix b = Fixture.matrix(arena, rnd, k, n, ElementType.F32, transB, 2, 1, false);
            Matrix bias = Fixture.matrix(arena, rnd, 1, n, ElementType.F32, false, 3, 0, false);
            Matrix fused = Fixture.matrix(arena, rnd, m, n, ElementType.F32, false, 0, 3, beta == 0f);
            Matrix separate = Fixture.matrix(arena, rnd, m, n, ElementType.F32, false, 0, 3, beta == 0f);
            java.lang.foreign.MemorySegment.copy(fused.seg(), 0, separate.seg(), 0, fused.seg().byteSize());
            float[] before = Fixture.snapshot(fused);
            g.gemm(transA, transB, m, n, k, alpha, a.seg(), a.off(), a.ld(), aType, b.seg(), b.off(), b.ld(), ElementType.F32,
                    beta, separate.seg(), separate.off(), separate.ld());
            g.gemm(transA, transB, m, n, k, alpha, a.seg(), a.off(), a.ld(), aType, b.seg(), b.off(), b.ld(), ElementType.F32,
                    beta, fused.seg(), fused.off(), fused.ld(), bias.seg(), bias.off());
            String what = String.format("%dx%dx%d tA=%b tB=%b beta=%s %s scalar=%b", m, n, k, transA, transB, beta, aType, g.isScalar());
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    float want = separate.getF32(i, j) + (float) bias.get(0, j);
                    float got = fused.getF32(i, j);
                    if (Float.floatToRawIntBits(want) != Float.floatToRawIntBits(got)) {
                        org.junit.jupiter.api.Assertions.fail(what + ": C[" + i + "," + j + "] = " + got + ", GEMM then add gives " + want);
                    }
                }
            }
            Fixture.checkUntouched(what, before, fused);
        }
    }

    private static void run(int m, int n, int k, boolean transA, boolean transB, float alpha, float beta,
                            ElementType aType, ElementType bType, int off, int pad, int cPad) {
        run(gemm, m, n, k, transA, transB, alpha, beta, aType, bType, off, pad, cPad);
    }

    static void run(Gemm g, int m, int n, int k, boolean transA, boolean transB, float alpha, float beta,
                    ElementType aType, ElementType bType, int off, int pad, int cPad) {
        SplittableRandom rnd = new SplittableRandom(31L * m + 17L * n + k);
        try (Arena arena = Arena.ofShared()) {
            check(g, arena, rnd, m, n, k, transA, transB, alpha, beta, aType, bType, off, pad, cPad);
        }
    }

    private static void check(Gemm g, Arena arena, SplittableRandom rnd, int m, int n, int k, boolean transA,
                              boolean transB, float alpha, float beta, ElementType aType, ElementType bType,
                              int off, int pad, int cPad) {
        Matrix a = Fixture.matrix(arena, rnd, m, k, aType, transA, off, pad, false);
        Matrix b = Fixture.matrix(arena, rnd, k, n, bType, transB, off + 1, pad, false);
        // With beta == 0, C starts as NaN garbage that must be overwritten, never read.
        Matrix c = Fixture.matrix(arena, rnd, m, n, ElementType.F32, false, off + 2, cPad, beta == 0f);
        Fixture.Expected want = Fixture.expect(a, b, c, alpha, beta);
        float[] before = Fixture.snapshot(c);
        g.gemm(transA, transB, m, n, k, alpha, a.seg(), a.off(), a.ld(), aType, b.seg(), b.off(), b.ld(), bType,
                beta, c.seg(), c.off(), c.ld());
        String what = String.format("%dx%dx%d tA=%b tB=%b alpha=%s beta=%s %s/%s off=%d pad=%d", m, n, k, transA,
                transB, alpha, beta, aType, bType, off, pad);
        Fixture.check(what, want, c, before);
    }
}
