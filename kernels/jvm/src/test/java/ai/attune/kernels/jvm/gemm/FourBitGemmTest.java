package ai.attune.kernels.jvm.gemm;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
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
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The GEMM with a blockwise 4-bit B, decoded while packing, against dequantise-then-GEMM: the same
 * kernel over the dense decoded B gives the same bits (packing hands the micro-kernel the same
 * floats), the scalar reference over the dense B gives the same bits as the scalar path over the
 * codes, and both agree with the double-precision oracle within the f32 tolerance of the other
 * GEMM tests.
 */
class FourBitGemmTest {

    private static final int MR = MicroKernel.MR;
    private static final int NR = MicroKernel.NR;
    private static final int KC = BlockedGemm.KC;

    /** bitsandbytes' NF4 values (Dettmers et al. 2023), copied from its {@code get_4bit_type}. */
    static final float[] NF4 = {
        -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
        -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
        0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
        0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f};
    /** bitsandbytes' FP4 values: sign bit, two exponent bits, one mantissa bit, over 12; code 8 is -0. */
    static final float[] FP4 = {
        0f, 0.0625f / 12, 8f / 12, 12f / 12, 4f / 12, 6f / 12, 2f / 12, 3f / 12,
        -0f, -0.0625f / 12, -8f / 12, -12f / 12, -4f / 12, -6f / 12, -2f / 12, -3f / 12};

    private static ExecutorService pool;
    private static Gemm gemm;
    private static Gemm scalar;

    @BeforeAll
    static void start() {
        pool = Executors.newFixedThreadPool(2);
        gemm = new Gemm(pool, 2, false);
        scalar = new Gemm(pool, 2, true);
    }

    @AfterAll
    static void stop() {
        pool.shutdownNow();
    }

    /**
     * Shapes whose weight rows and columns are not multiples of the tiles or the blocksize, some
     * with an odd element count (a half-used last byte), some past KC and NC, some large enough
     * to split across threads; both transposes of A and B.
     */
    static Stream<Arguments> shapes() {
        int[][] shapes = {
            {1, 1, 1}, {7, 13, 5}, {6, 37, 29}, {33, 65, 17}, {MR + 1, NR + 1, 9}, {2 * MR + 1, 3 * NR - 1, 31},
            {17, 40, KC + 7}, {9, BlockedGemm.NC + 3, 11}, {130, 141, 149}, {301, 90, 401}, {40, 333, 700},
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
    void decodedWhilePackingEqualsDequantizeThenGemm(int m, int n, int k, boolean transA, boolean transB) {
        for (int blocksize : new int[] {64, 128}) {
            check(m, n, k, transA, transB, blocksize, NF4, ElementType.F32, 1f, 0f);
            check(m, n, k, transA, transB, blocksize, FP4, ElementType.F32, 1f, 0f);
        }
    }

    /** A blocksize that no vector length divides takes the element-at-a-time decode, with the same result. */
    @Test
    void blocksizesTheVectorsDoNotDivide() {
        for (int t = 0; t < 4; t++) {
            check(23, 37, 45, (t & 1) != 0, (t & 2) != 0, 36, NF4, ElementType.F32, 1f, 0f);
            check(23, 37, 45, (t & 1) != 0, (t & 2) != 0, 3, FP4, ElementType.F32, 1f, 0f);
        }
    }

    @Test
    void sixteenBitAAlphaAndBeta() {
        for (int t = 0; t < 4; t++) {
            check(19, 35, 27, (t & 1) != 0, (t & 2) != 0, 64, NF4, ElementType.BF16, 0.5f, 1f);
            check(MR + 1, NR + 1, 70, (t & 1) != 0, (t & 2) != 0, 64, FP4, ElementType.F16, -1f, 0.25f);
        }
    }

    private static void check(int m, int n, int k, boolean transA, boolean transB, int blocksize, float[] table,
                              ElementType aType, float alpha, float beta) {
        SplittableRandom rnd = new SplittableRandom(31L * m + 17L * n + k + blocksize);
        String what = String.format("%dx%dx%d tA=%b tB=%b blocksize=%d %s %s alpha=%s beta=%s", m, n, k, transA, transB,
                blocksize, table == NF4 ? "nf4" : "fp4", aType, alpha, beta);
        try (Arena arena = Arena.ofShared()) {
            int rows = transB ? n : k; // B as stored
            int cols = transB ? k : n;
            long elements = (long) rows * cols;
            MemorySegment codes = arena.allocate((elements + 1) / 2 + 1).asSlice(1); // misaligned, as a tensor view may be
            for (long i = 0; i < codes.byteSize(); i++) {
                codes.set(ValueLayout.JAVA_BYTE, i, (byte) rnd.nextInt(256));
            }
            int blocks = (int) ((elements + blocksize - 1) / blocksize);
            MemorySegment absmax = arena.allocate((long) blocks * Float.BYTES);
            for (int b = 0; b < blocks; b++) {
                absmax.setAtIndex(ValueLayout.JAVA_FLOAT, b, (float) (0.01 + rnd.nextDouble()));
            }
            FourBitBlocks fourBit = new FourBitBlocks(codes, table, absmax, blocksize, elements);
            Matrix dense = dequantize(arena, codes, absmax, table, blocksize, rows, cols, transB, k, n);

            Matrix a = Fixture.matrix(arena, rnd, m, k, aType, transA, 3, 2, false);
            Matrix c0 = Fixture.matrix(arena, rnd, m, n, ElementType.F32, false, 1, 3, beta == 0f);
            Fixture.Expected want = Fixture.expect(a, dense, c0, alpha, beta);
            float[] before = Fixture.snapshot(c0);

            float[] fused = run(gemm, a, c0, before, m, n, k, alpha, beta, (g, c) -> g.gemm(transA, transB, m, n, k, alpha,
                    a.seg(), a.off(), a.ld(), aType, fourBit, beta, c.seg(), c.off(), c.ld()), want, what + " fused");
            float[] unfused = run(gemm, a, c0, before, m, n, k, alpha, beta, (g, c) -> g.gemm(transA, transB, m, n, k, alpha,
                    a.seg(), a.off(), a.ld(), aType, dense.seg(), dense.off(), dense.ld(), ElementType.F32, beta, c.seg(), c.off(), c.ld()),
                    want, what + " dequantize-then-GEMM");
            assertBitsEqual(unfused, fused, what + ": fused vs dequantize-then-GEMM");

            float[] fusedScalar = run(scalar, a, c0, before, m, n, k, alpha, beta, (g, c) -> g.gemm(transA, transB, m, n, k, alpha,
                    a.seg(), a.off(), a.ld(), aType, fourBit, beta, c.seg(), c.off(), c.ld()), want, what + " scalar fused");
            float[] reference = run(null, a, c0, before, m, n, k, alpha, beta, (g, c) -> ScalarGemm.gemm(transA, transB, m, n, k, alpha,
                    a.seg(), a.off(), a.ld(), aType, dense.seg(), dense.off(), dense.ld(), ElementType.F32, beta, c.seg(), c.off(), c.ld()),
                    want, what + " ScalarGemm on the dequantized B");
            assertBitsEqual(reference, fusedScalar, what + ": scalar fused vs ScalarGemm on the dequantized B");
        }
    }

    private interface Call {
        void run(Gemm g, Matrix c);
    }

    /** Runs one GEMM into a fresh copy of C0, checks it against the oracle, and returns C's view row by row. */
    private static float[] run(Gemm g, Matrix a, Matrix c0, float[] before, int m, int n, int k, float alpha, float beta,
                               Call call, Fixture.Expected want, String what) {
        MemorySegment.copy(before, 0, c0.seg(), ValueLayout.JAVA_FLOAT_UNALIGNED, 0, before.length); // each GEMM starts from C0
        call.run(g, c0);
        Fixture.check(what, want, c0, before);
        float[] out = new float[m * n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                out[i * n + j] = c0.getF32(i, j);
            }
        }
        return out;
    }

    private static void assertBitsEqual(float[] want, float[] got, String what) {
        for (int i = 0; i < want.length; i++) {
            assertEquals(Float.floatToRawIntBits(want[i]), Float.floatToRawIntBits(got[i]), what + " at " + i + ": " + got[i] + " vs " + want[i]);
        }
    }

    /**
     * bitsandbytes' {@code dequantize_4bit}, written out here apart from the code under test:
     * element e is {@code table[nibble] * absmax[e / blocksize]} in f32, the high nibble first. The
     * result is op(B) as a [k, n] view of an f32 matrix stored as B is.
     */
    private static Matrix dequantize(Arena arena, MemorySegment codes, MemorySegment absmax, float[] table, int blocksize,
                                     int rows, int cols, boolean trans, int k, int n) {
        long elements = (long) rows * cols;
        MemorySegment out = arena.allocate(elements * Float.BYTES);
        for (long e = 0; e < elements; e++) {
            int b = codes.get(ValueLayout.JAVA_BYTE, e / 2) & 0xFF;
            int code = e % 2 == 0 ? b >>> 4 : b & 0xF;
            out.setAtIndex(ValueLayout.JAVA_FLOAT, e, table[code] * absmax.getAtIndex(ValueLayout.JAVA_FLOAT, e / blocksize));
        }
        return new Matrix(out, 0, cols, ElementType.F32, trans, k, n);
    }
}
