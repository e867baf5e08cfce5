package ai.attune.kernels.jvm.gemm;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

/**
 * The register-blocked micro-kernel: an MR x NR tile of C lives in MR*NR/V vector registers for
 * the whole k loop, so each step costs MR broadcasts and NR/V loads for MR*NR/V fused
 * multiply-adds. Vectors run along n because C is row-major: a tile row is NR contiguous floats.
 *
 * <p>Shape MR = 12, NR = 2 vectors: 24 accumulators + 2 B vectors + 1 broadcast stay within
 * the 32 AVX-512 registers, so the loop never spills.
 *
 * <p>Operands are packed panels (see {@link Packing}): A as kc groups of MR floats (one column
 * slice of MR rows), B as kc groups of NR floats (one row slice of NR columns). Padding lanes of
 * both hold zeros, so edge tiles run the same loop and only the write-back looks at rows/cols.
 */
final class MicroKernel {

    /** 512-bit where the hardware has it; the tile shape scales with whatever length we get. */
    static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED.length() >= 16
            ? FloatVector.SPECIES_512 : FloatVector.SPECIES_PREFERRED;
    static final int V = SPECIES.length();
    static final int MR = 12;
    static final int NR = 2 * V;

    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    private MicroKernel() {
    }

    /**
     * tile[MR x NR] = A panel . B panel over kc steps. The accumulators go to a small L1-resident
     * array rather than straight to C: the write-back then stays one short loop, and no vector
     * value crosses a method boundary (a vector argument the JIT fails to inline gets boxed).
     */
    static void multiply(int kc, float[] a, int aBase, float[] b, int bBase, float[] tile) {
        FloatVector c0_0 = FloatVector.zero(SPECIES), c0_1 = FloatVector.zero(SPECIES);
        FloatVector c1_0 = FloatVector.zero(SPECIES), c1_1 = FloatVector.zero(SPECIES);
        FloatVector c2_0 = FloatVector.zero(SPECIES), c2_1 = FloatVector.zero(SPECIES);
        FloatVector c3_0 = FloatVector.zero(SPECIES), c3_1 = FloatVector.zero(SPECIES);
        FloatVector c4_0 = FloatVector.zero(SPECIES), c4_1 = FloatVector.zero(SPECIES);
        FloatVector c5_0 = FloatVector.zero(SPECIES), c5_1 = FloatVector.zero(SPECIES);
        FloatVector c6_0 = FloatVector.zero(SPECIES), c6_1 = FloatVector.zero(SPECIES);
        FloatVector c7_0 = FloatVector.zero(SPECIES), c7_1 = FloatVector.zero(SPECIES);
        FloatVector c8_0 = FloatVector.zero(SPECIES), c8_1 = FloatVector.zero(SPECIES);
        FloatVector c9_0 = FloatVector.zero(SPECIES), c9_1 = FloatVector.zero(SPECIES);
        FloatVector c10_0 = FloatVector.zero(SPECIES), c10_1 = FloatVector.zero(SPECIES);
        FloatVector c11_0 = FloatVector.zero(SPECIES), c11_1 = FloatVector.zero(SPECIES);
        for (int p = 0; p < kc; p++) {
            int ai = aBase + p * MR;
            int bi = bBase + p * NR;
            FloatVector b0 = FloatVector.fromArray(SPECIES, b, bi);
            FloatVector b1 = FloatVector.fromArray(SPECIES, b, bi + V);
            FloatVector x;
            x = FloatVector.broadcast(SPECIES, a[ai]);
            c0_0 = x.fma(b0, c0_0); c0_1 = x.fma(b1, c0_1);
            x = FloatVector.broadcast(SPECIES, a[ai + 1]);
            c1_0 = x.fma(b0, c1_0); c1_1 = x.fma(b1, c1_1);
            x = FloatVector.broadcast(SPECIES, a[ai + 2]);
            c2_0 = x.fma(b0, c2_0); c2_1 = x.fma(b1, c2_1);
            x = FloatVector.broadcast(SPECIES, a[ai + 3]);
            c3_0 = x.fma(b0, c3_0); c3_1 = x.fma(b1, c3_1);
            x = FloatVector.broadcast(SPECIES, a[ai + 4]);
            c4_0 = x.fma(b0, c4_0); c4_1 = x.fma(b1, c4_1);
            x = FloatVector.broadcast(SPECIES, a[ai + 5]);
            c5_0 = x.fma(b0, c5_0); c5_1 = x.fma(b1, c5_1);
            x = FloatVector.broadcast(SPECIES, a[ai + 6]);
            c6_0 = x.fma(b0, c6_0); c6_1 = x.fma(b1, c6_1);
            x = FloatVector.broadcast(SPECIES, a[ai + 7]);
            c7_0 = x.fma(b0, c7_0); c7_1 = x.fma(b1, c7_1);
            x = FloatVector.broadcast(SPECIES, a[ai + 8]);
            c8_0 = x.fma(b0, c8_0); c8_1 = x.fma(b1, c8_1);
            x = FloatVector.broadcast(SPECIES, a[ai + 9]);
            c9_0 = x.fma(b0, c9_0); c9_1 = x.fma(b1, c9_1);
            x = FloatVector.broadcast(SPECIES, a[ai + 10]);
            c10_0 = x.fma(b0, c10_0); c10_1 = x.fma(b1, c10_1);
            x = FloatVector.broadcast(SPECIES, a[ai + 11]);
            c11_0 = x.fma(b0, c11_0); c11_1 = x.fma(b1, c11_1);
        }
        c0_0.intoArray(tile, 0 * V);
        c0_1.intoArray(tile, 1 * V);
        c1_0.intoArray(tile, 2 * V);
        c1_1.intoArray(tile, 3 * V);
        c2_0.intoArray(tile, 4 * V);
        c2_1.intoArray(tile, 5 * V);
        c3_0.intoArray(tile, 6 * V);
        c3_1.intoArray(tile, 7 * V);
        c4_0.intoArray(tile, 8 * V);
        c4_1.intoArray(tile, 9 * V);
        c5_0.intoArray(tile, 10 * V);
        c5_1.intoArray(tile, 11 * V);
        c6_0.intoArray(tile, 12 * V);
        c6_1.intoArray(tile, 13 * V);
        c7_0.intoArray(tile, 14 * V);
        c7_1.intoArray(tile, 15 * V);
        c8_0.intoArray(tile, 16 * V);
        c8_1.intoArray(tile, 17 * V);
        c9_0.intoArray(tile, 18 * V);
        c9_1.intoArray(tile, 19 * V);
        c10_0.intoArray(tile, 20 * V);
        c10_1.intoArray(tile, 21 * V);
        c11_0.intoArray(tile, 22 * V);
        c11_1.intoArray(tile, 23 * V);
    }

    /**
     * C[rows x cols at element {@code cOff}, row stride {@code ldc}] = alpha * tile + beta * C,
     * reading C only when beta != 0 (beta == 0 means "ignore C", which may hold NaN garbage).
     * Lanes past {@code cols} are masked off, so edge tiles never touch memory outside C.
     */
    static void writeBack(float[] tile, MemorySegment c, long cOff, int ldc, int rows, int cols,
                          float alpha, float beta) {
        FloatVector alphaV = FloatVector.broadcast(SPECIES, alpha);
        FloatVector betaV = FloatVector.broadcast(SPECIES, beta);
        long rowBytes = (long) ldc * Float.BYTES;
        long at = cOff * Float.BYTES;
        if (cols == NR) {
            for (int r = 0; r < rows; r++, at += rowBytes) {
                for (int v = 0; v < NR; v += V) {
                    long ptr = at + (long) v * Float.BYTES;
                    FloatVector sum = FloatVector.fromArray(SPECIES, tile, r * NR + v).mul(alphaV);
                    if (beta != 0f) {
                        sum = FloatVector.fromMemorySegment(SPECIES, c, ptr, LE).fma(betaV, sum);
                    }
                    sum.intoMemorySegment(c, ptr, LE);
                }
            }
            return;
        }
        for (int r = 0; r < rows; r++, at += rowBytes) {
            for (int v = 0; v < cols; v += V) {
                VectorMask<Float> mask = SPECIES.indexInRange(v, cols);
                long ptr = at + (long) v * Float.BYTES;
                FloatVector sum = FloatVector.fromArray(SPECIES, tile, r * NR + v).mul(alphaV);
                if (beta != 0f) {
                    sum = FloatVector.fromMemorySegment(SPECIES, c, ptr, LE, mask).fma(betaV, sum);
                }
                sum.intoMemorySegment(c, ptr, LE, mask);
            }
        }
    }
}
