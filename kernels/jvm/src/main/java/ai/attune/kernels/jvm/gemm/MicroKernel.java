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
 * <p>With 512-bit vectors the tile is 6 x 64: 24 accumulators + 4 B vectors + 1 broadcast fit the
 * 32 AVX-512 registers, and the loop runs at the measured FMA peak when its operands are in cache
 * (6 x 32, 8 x 32, 8 x 48, 12 x 32 and 14 x 32 were tried: equal or up to 10% slower in the full
 * GEMM). Narrower vectors get 6 x 2V, which fits the 16 registers of AVX2.
 *
 * <p>Operands are packed panels (see {@link Packing}): A as kc groups of MR floats (one column
 * slice of MR rows), B as kc groups of NR floats (one row slice of NR columns). Padding rows and
 * lanes hold zeros, so edge tiles run the same loop and only the write-back looks at rows/cols.
 */
final class MicroKernel {

    /** 512-bit where the hardware has it; the tile shape scales with whatever length we get. */
    static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED.length() >= 16
            ? FloatVector.SPECIES_512 : FloatVector.SPECIES_PREFERRED;
    static final int V = SPECIES.length();
    static final int MR = 6;
    /** Vectors per tile row. */
    private static final int NV = V >= 16 ? 4 : 2;
    static final int NR = NV * V;

    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    private MicroKernel() {
    }

    /**
     * tile[MR x NR] = A panel . B panel over kc steps. The accumulators go to a small L1-resident
     * array rather than straight to C: the write-back then stays one short loop, and no vector
     * value crosses a method boundary (a vector argument the JIT fails to inline gets boxed).
     */
    static void multiply(int kc, float[] a, int aBase, float[] b, int bBase, float[] tile) {
        if (NV == 4) {
            multiply4(kc, a, aBase, b, bBase, tile);
        } else {
            multiply2(kc, a, aBase, b, bBase, tile);
        }
    }

    private static void multiply4(int kc, float[] a, int aBase, float[] b, int bBase, float[] tile) {
        FloatVector c0_0 = FloatVector.zero(SPECIES), c0_1 = FloatVector.zero(SPECIES), c0_2 = FloatVector.zero(SPECIES), c0_3 = FloatVector.zero(SPECIES);
        FloatVector c1_0 = FloatVector.zero(SPECIES), c1_1 = FloatVector.zero(SPECIES), c1_2 = FloatVector.zero(SPECIES), c1_3 = FloatVector.zero(SPECIES);
        FloatVector c2_0 = FloatVector.zero(SPECIES), c2_1 = FloatVector.zero(SPECIES), c2_2 = FloatVector.zero(SPECIES), c2_3 = FloatVector.zero(SPECIES);
        FloatVector c3_0 = FloatVector.zero(SPECIES), c3_1 = FloatVector.zero(SPECIES), c3_2 = FloatVector.zero(SPECIES), c3_3 = FloatVector.zero(SPECIES);
        FloatVector c4_0 = FloatVector.zero(SPECIES), c4_1 = FloatVector.zero(SPECIES), c4_2 = FloatVector.zero(SPECIES), c4_3 = FloatVector.zero(SPECIES);
        FloatVector c5_0 = FloatVector.zero(SPECIES), c5_1 = FloatVector.zero(SPECIES), c5_2 = FloatVector.zero(SPECIES), c5_3 = FloatVector.zero(SPECIES);
        for (int p = 0; p < kc; p++) {
            int ai = aBase + p * MR;
            int bi = bBase + p * 4 * V;
            FloatVector b0 = FloatVector.fromArray(SPECIES, b, bi);
            FloatVector b1 = FloatVector.fromArray(SPECIES, b, bi + V);
            FloatVector b2 = FloatVector.fromArray(SPECIES, b, bi + 2 * V);
            FloatVector b3 = FloatVector.fromArray(SPECIES, b, bi + 3 * V);
            FloatVector x;
            x = FloatVector.broadcast(SPECIES, a[ai]);
            c0_0 = x.fma(b0, c0_0);
            c0_1 = x.fma(b1, c0_1);
            c0_2 = x.fma(b2, c0_2);
            c0_3 = x.fma(b3, c0_3);
            x = FloatVector.broadcast(SPECIES, a[ai + 1]);
            c1_0 = x.fma(b0, c1_0);
            c1_1 = x.fma(b1, c1_1);
            c1_2 = x.fma(b2, c1_2);
            c1_3 = x.fma(b3, c1_3);
            x = FloatVector.broadcast(SPECIES, a[ai + 2]);
            c2_0 = x.fma(b0, c2_0);
            c2_1 = x.fma(b1, c2_1);
            c2_2 = x.fma(b2, c2_2);
            c2_3 = x.fma(b3, c2_3);
            x = FloatVector.broadcast(SPECIES, a[ai + 3]);
            c3_0 = x.fma(b0, c3_0);
            c3_1 = x.fma(b1, c3_1);
            c3_2 = x.fma(b2, c3_2);
            c3_3 = x.fma(b3, c3_3);
            x = FloatVector.broadcast(SPECIES, a[ai + 4]);
            c4_0 = x.fma(b0, c4_0);
            c4_1 = x.fma(b1, c4_1);
            c4_2 = x.fma(b2, c4_2);
            c4_3 = x.fma(b3, c4_3);
            x = FloatVector.broadcast(SPECIES, a[ai + 5]);
            c5_0 = x.fma(b0, c5_0);
            c5_1 = x.fma(b1, c5_1);
            c5_2 = x.fma(b2, c5_2);
            c5_3 = x.fma(b3, c5_3);
        }
        c0_0.intoArray(tile, 0 * V);
        c0_1.intoArray(tile, 1 * V);
        c0_2.intoArray(tile, 2 * V);
        c0_3.intoArray(tile, 3 * V);
        c1_0.intoArray(tile, 4 * V);
        c1_1.intoArray(tile, 5 * V);
        c1_2.intoArray(tile, 6 * V);
        c1_3.intoArray(tile, 7 * V);
        c2_0.intoArray(tile, 8 * V);
        c2_1.intoArray(tile, 9 * V);
        c2_2.intoArray(tile, 10 * V);
        c2_3.intoArray(tile, 11 * V);
        c3_0.intoArray(tile, 12 * V);
        c3_1.intoArray(tile, 13 * V);
        c3_2.intoArray(tile, 14 * V);
        c3_3.intoArray(tile, 15 * V);
        c4_0.intoArray(tile, 16 * V);
        c4_1.intoArray(tile, 17 * V);
        c4_2.intoArray(tile, 18 * V);
        c4_3.intoArray(tile, 19 * V);
        c5_0.intoArray(tile, 20 * V);
        c5_1.intoArray(tile, 21 * V);
        c5_2.intoArray(tile, 22 * V);
        c5_3.intoArray(tile, 23 * V);
    }

    private static void multiply2(int kc, float[] a, int aBase, float[] b, int bBase, float[] tile) {
        FloatVector c0_0 = FloatVector.zero(SPECIES), c0_1 = FloatVector.zero(SPECIES);
        FloatVector c1_0 = FloatVector.zero(SPECIES), c1_1 = FloatVector.zero(SPECIES);
        FloatVector c2_0 = FloatVector.zero(SPECIES), c2_1 = FloatVector.zero(SPECIES);
        FloatVector c3_0 = FloatVector.zero(SPECIES), c3_1 = FloatVector.zero(SPECIES);
        FloatVector c4_0 = FloatVector.zero(SPECIES), c4_1 = FloatVector.zero(SPECIES);
        FloatVector c5_0 = FloatVector.zero(SPECIES), c5_1 = FloatVector.zero(SPECIES);
        for (int p = 0; p < kc; p++) {
            int ai = aBase + p * MR;
            int bi = bBase + p * 2 * V;
            FloatVector b0 = FloatVector.fromArray(SPECIES, b, bi);
            FloatVector b1 = FloatVector.fromArray(SPECIES, b, bi + V);
            FloatVector x;
            x = FloatVector.broadcast(SPECIES, a[ai]);
            c0_0 = x.fma(b0, c0_0);
            c0_1 = x.fma(b1, c0_1);
            x = FloatVector.broadcast(SPECIES, a[ai + 1]);
            c1_0 = x.fma(b0, c1_0);
            c1_1 = x.fma(b1, c1_1);
            x = FloatVector.broadcast(SPECIES, a[ai + 2]);
            c2_0 = x.fma(b0, c2_0);
            c2_1 = x.fma(b1, c2_1);
            x = FloatVector.broadcast(SPECIES, a[ai + 3]);
            c3_0 = x.fma(b0, c3_0);
            c3_1 = x.fma(b1, c3_1);
            x = FloatVector.broadcast(SPECIES, a[ai + 4]);
            c4_0 = x.fma(b0, c4_0);
            c4_1 = x.fma(b1, c4_1);
            x = FloatVector.broadcast(SPECIES, a[ai + 5]);
            c5_0 = x.fma(b0, c5_0);
            c5_1 = x.fma(b1, c5_1);
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
    }

    /**
     * C[rows x cols at element {@code cOff}, row stride {@code ldc}] = alpha * tile + beta * C,
     * reading C only when beta != 0 (beta == 0 means "ignore C", which may hold NaN garbage), then
     * plus {@code bias[j]} (f32 at element {@code biasOff + j}) when bias is not null: a linear
     * layer's bias costs no pass of its own over C. Lanes past {@code cols} are masked off, so edge
     * tiles never touch memory outside C.
     */
    static void writeBack(float[] tile, MemorySegment c, long cOff, int ldc, int rows, int cols,
                          float alpha, float beta, MemorySegment bias, long biasOff) {
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
                    if (bias != null) {
                        sum = sum.add(FloatVector.fromMemorySegment(SPECIES, bias, (biasOff + v) * Float.BYTES, LE));
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
                if (bias != null) {
                    sum = sum.add(FloatVector.fromMemorySegment(SPECIES, bias, (biasOff + v) * Float.BYTES, LE, mask));
                }
                sum.intoMemorySegment(c, ptr, LE, mask);
            }
        }
    }
}
