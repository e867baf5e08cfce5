package ai.attune.kernels.jvm.gemm;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * One GEMM input as the caller laid it out: {@code op(X)} has logical element (r, c) at
 * {@code off + r*ld + c}, or at {@code off + c*ld + r} when {@code trans}. Offsets and leading
 * dimension count elements of {@code type}.
 */
record Operand(MemorySegment seg, long off, int ld, ElementType type, boolean trans) {

    /** Logical element (r, c) of op(X), widened to f32. */
    float get(int r, int c) {
        return type.load(seg, trans ? off + (long) c * ld + r : off + (long) r * ld + c);
    }

    /** Element index of the start of stored row {@code row}, column {@code col}. */
    long index(long row, long col) {
        return off + row * ld + col;
    }

    /** Same operand shifted by {@code elements}: how a batch member is addressed. */
    Operand shifted(long elements) {
        return elements == 0 ? this : new Operand(seg, off + elements, ld, type, trans);
    }

    /**
     * Copies {@code count} consecutive stored elements starting at element {@code index} into
     * {@code dst[dstPos..]} as f32. One bulk copy per run keeps the per-element bounds checks of
     * segment access out of the packing loops; {@code shorts} is scratch for the 16-bit types.
     */
    void readRun(long index, int count, float[] dst, int dstPos, short[] shorts) {
        switch (type) {
            case F32 -> MemorySegment.copy(seg, ValueLayout.JAVA_FLOAT_UNALIGNED, index * 4, dst, dstPos, count);
            case BF16 -> {
                MemorySegment.copy(seg, ValueLayout.JAVA_SHORT_UNALIGNED, index * 2, shorts, 0, count);
                for (int i = 0; i < count; i++) {
                    dst[dstPos + i] = Float.intBitsToFloat(shorts[i] << 16);
                }
            }
            case F16 -> {
                MemorySegment.copy(seg, ValueLayout.JAVA_SHORT_UNALIGNED, index * 2, shorts, 0, count);
                for (int i = 0; i < count; i++) {
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
        long available = seg.byteSize() / type.byteSize();
        if (last > available) {
            throw new IndexOutOfBoundsException(name + " needs " + last + " elements of " + type
                    + " but the segment holds " + available);
        }
    }
}
