package ai.attune.kernels.jvm.gemm;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

import static ai.attune.kernels.jvm.gemm.MicroKernel.SPECIES;
import static ai.attune.kernels.jvm.gemm.MicroKernel.V;

/**
 * The storage of a GEMM operand in blockwise 4-bit form (bitsandbytes' NF4 and FP4): element
 * {@code e} of the row-major flattened matrix is {@code values[code(e)] * absmax[e / blocksize]} in
 * f32, its code in the high nibble of byte {@code e / 2} for even e and the low nibble for odd e.
 * Packing decodes it as it widens bf16, so the micro-kernel sees f32 and no dense copy of the
 * matrix is ever made: the GEMM reads half a byte per weight instead of four.
 */
public final class FourBitBlocks {

    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    /**
     * The 16-value table fits one int vector (512-bit) or two (256-bit); narrower vectors (there
     * is no 32-bit byte shape either) decode one element at a time.
     */
    private static final boolean VECTOR = V == 16 || V == 8;
    /** V bytes: the V/2 bytes that hold one vector's codes, and as many unused. */
    private static final VectorSpecies<Byte> BYTES = VECTOR ? VectorSpecies.of(byte.class, VectorShape.forBitSize(V * 8)) : null;
    private static final VectorSpecies<Integer> INTS = VectorSpecies.of(int.class, SPECIES.vectorShape());
    /** Byte j goes to lanes 2j and 2j+1: each element of a pair next to its code byte. */
    private static final VectorShuffle<Byte> PAIRS = VECTOR ? VectorShuffle.fromOp(BYTES, lane -> lane / 2) : null;
    /** The first element of a pair is the high nibble. */
    private static final IntVector SHIFTS = VECTOR ? IntVector.fromArray(INTS, shifts(), 0) : null;

    private final MemorySegment codes;
    private final float[] values;
    /** The values' bits, from which each decode loads its table into registers. */
    private final int[] bits = new int[16];
    private final MemorySegment absmax;
    private final int blocksize;
    private final long elements;

    /**
     * @param codes     the packed codes, {@code ceil(elements / 2)} bytes
     * @param values    the 16 values the codes stand for
     * @param absmax    f32, one scale per block of {@code blocksize} elements
     * @param blocksize elements per block
     * @param elements  elements of the matrix
     */
    public FourBitBlocks(MemorySegment codes, float[] values, MemorySegment absmax, int blocksize, long elements) {
        if (values.length != 16 || blocksize <= 0 || elements < 0) {
            throw new IllegalArgumentException("4-bit blocks need 16 values and a positive blocksize");
        }
        if (codes.byteSize() < (elements + 1) / 2 || absmax.byteSize() < (elements + blocksize - 1) / blocksize * Float.BYTES) {
            throw new IndexOutOfBoundsException("4-bit blocks of " + elements + " elements need " + (elements + 1) / 2 + " code bytes and "
                    + (elements + blocksize - 1) / blocksize + " scales; the segments hold " + codes.byteSize() + " and " + absmax.byteSize() / 4);
        }
        this.codes = codes;
        this.values = values.clone();
        this.absmax = absmax;
        this.blocksize = blocksize;
        this.elements = elements;
        for (int c = 0; c < 16; c++) {
            bits[c] = Float.floatToRawIntBits(values[c]);
        }
    }

    MemorySegment codes() {
        return codes;
    }

    MemorySegment absmax() {
        return absmax;
    }

    long elements() {
        return elements;
    }

    private static int[] shifts() {
        int[] s = new int[V];
        for (int i = 0; i < V; i += 2) {
            s[i] = 4;
        }
        return s;
    }

    /** Element {@code e}, decoded. */
    float get(long e) {
        int b = codes.get(ValueLayout.JAVA_BYTE, e >> 1);
        int code = (e & 1) == 0 ? (b >> 4) & 0xF : b & 0xF;
        return values[code] * absmax.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, e / blocksize);
    }

    /**
     * Decodes elements {@code e .. e+count} into {@code dst[pos..]}. Whole vectors run from an
     * element index that is a multiple of V, so that with V dividing the blocksize each vector
     * takes one scale; the lanes look their code up in the table held in registers.
     */
    void decode(long e, int count, float[] dst, int pos) {
        int i = 0;
        if (VECTOR && blocksize % V == 0) {
            i = (int) Math.min(count, Math.floorMod(-e, (long) V));
            for (int h = 0; h < i; h++) {
                dst[pos + h] = get(e + h);
            }
            IntVector lo = IntVector.fromArray(INTS, bits, 0);
            IntVector hi = V == 8 ? IntVector.fromArray(INTS, bits, 8) : lo;
            long lastStart = codes.byteSize() - V; // a vector reads V code bytes and uses half of them
            for (; i <= count - V && (e + i) >> 1 <= lastStart; i += V) {
                long at = e + i;
                IntVector nibbles = ((IntVector) ByteVector.fromMemorySegment(BYTES, codes, at >> 1, LE)
                        .rearrange(PAIRS)
                        .convertShape(VectorOperators.B2I, INTS, 0))
                        .lanewise(VectorOperators.LSHR, SHIFTS)
                        .and(0xF);
                IntVector looked = V == 8 ? nibbles.selectFrom(lo, hi) : nibbles.selectFrom(lo);
                looked.reinterpretAsFloats()
                        .mul(absmax.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, at / blocksize))
                        .intoArray(dst, pos + i);
            }
        }
        for (; i < count; i++) {
            dst[pos + i] = get(e + i);
        }
    }
}
