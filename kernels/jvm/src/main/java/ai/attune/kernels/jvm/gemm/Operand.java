package ai.attune.kernels.jvm.gemm;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import static ai.attune.kernels.jvm.gemm.MicroKernel.SPECIES;
import static ai.attune.kernels.jvm.gemm.MicroKernel.V;

/**
 * One GEMM input as the caller laid it out: {@code op(X)} has logical element (r, c) at
 * {@code off + r*ld + c}, or at {@code off + c*ld + r} when {@code trans}. Offsets and leading
 * dimension count elements of {@code type}, or of {@code blocks} for a 4-bit operand, whose
 * {@code type} is null and whose {@code seg} is its codes.
 */
record Operand(MemorySegment seg, long off, int ld, ElementType type, boolean trans, FourBitBlocks blocks) {

    Operand(MemorySegment seg, long off, int ld, ElementType type, boolean trans) {
        this(seg, off, ld, type, trans, null);
    }

    /** A 4-bit matrix stored row-major with {@code ld} elements per row. */
    Operand(FourBitBlocks blocks, int ld, boolean trans) {
        this(blocks.codes(), 0, ld, null, trans, blocks);
    }

    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    /** V 16-bit lanes: the raw bits of one f32 vector's worth of bf16 elements. */
    private static final VectorSpecies<Short> HALVES = VectorSpecies.of(short.class, VectorShape.forBitSize(V * 16));
    private static final VectorSpecies<Integer> INTS = VectorSpecies.of(int.class, SPECIES.vectorShape());

    /** Logical element (r, c) of op(X), widened to f32. */
    float get(int r, int c) {
        long at = trans ? off + (long) c * ld + r : off + (long) r * ld + c;
        return blocks != null ? blocks.get(at) : type.load(seg, at);
    }

    /** Element index of the start of stored row {@code row}, column {@code col}. */
    long index(long row, long col) {
        return off + row * ld + col;
    }

    /** Same operand shifted by {@code elements}: how a batch member is addressed. */
    Operand shifted(long elements) {
        return elements == 0 ? this : new Operand(seg, off + elements, ld, type, trans, blocks);
    }

    /**
     * Copies {@code count} consecutive stored elements starting at element {@code index} into
     * {@code dst[dstPos..]} as f32. Whole vectors go straight from the segment to the array (one
     * bounds check per vector, not per element); {@code shorts} is scratch for f16, which the
     * Vector API cannot widen, so it takes a bulk copy and a scalar conversion loop.
     */
    void readRun(long index, int count, float[] dst, int dstPos, short[] shorts) {
        if (blocks != null) {
            blocks.decode(index, count, dst, dstPos);
            return;
        }
        int i = 0;
        switch (type) {
            case F32 -> {
                long at = index * Float.BYTES;
                for (; i <= count - V; i += V) {
                    FloatVector.fromMemorySegment(SPECIES, seg, at + (long) i * Float.BYTES, LE)
                            .intoArray(dst, dstPos + i);
                }
                for (; i < count; i++) {
                    dst[dstPos + i] = seg.get(ValueLayout.JAVA_FLOAT_UNALIGNED, at + (long) i * Float.BYTES);
                }
            }
            case BF16 -> {
                long at = index * 2;
                for (; i <= count - V; i += V) {
                    // bf16 is the top half of an f32: sign-extend to 32 bits, shift, reinterpret.
                    ((IntVector) ShortVector.fromMemorySegment(HALVES, seg, at + i * 2L, LE)
                            .convertShape(VectorOperators.S2I, INTS, 0))
                            .lanewise(VectorOperators.LSHL, 16)
                            .reinterpretAsFloats()
                            .intoArray(dst, dstPos + i);
                }
                for (; i < count; i++) {
                    dst[dstPos + i] = ElementType.bf16ToFloat(seg.get(ValueLayout.JAVA_SHORT_UNALIGNED, at + i * 2L));
                }
            }
            case F16 -> {
                MemorySegment.copy(seg, ValueLayout.JAVA_SHORT_UNALIGNED, index * 2, shorts, 0, count);
                for (; i < count; i++) {
                    dst[dstPos + i] = Float.float16ToFloat(shorts[i]);
                }
            }
        }
    }

    /**
     * Checks that every element op(X) of a rows x cols view can touch lies inside the segment, so a
     * bad call fails before C is half written.
     */
    void checkBounds(String name, int rows, int cols) {
        if (off < 0) {
            throw new IllegalArgumentException(name + " offset is negative: " + off);
        }
        if (rows == 0 || cols == 0) {
            return;
        }
        int storedRows = trans ? cols : rows;
        int storedCols = trans ? rows : cols;
        if (storedRows > 1 && ld < storedCols) {
            throw new IllegalArgumentException(name + " leading dimension " + ld + " < row width " + storedCols);
        }
        long last = off + (long) (storedRows - 1) * ld + storedCols; // one past the last element
        long available = blocks != null ? blocks.elements() : seg.byteSize() / type.byteSize();
        if (last > available) {
            throw new IndexOutOfBoundsException(name + " needs " + last + " elements of " + (blocks != null ? "4-bit codes" : type)
                    + " but the segment holds " + available);
        }
    }
}
