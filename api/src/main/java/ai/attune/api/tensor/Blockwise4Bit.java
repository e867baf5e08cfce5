package ai.attune.api.tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Objects;

/**
 * A [rows, cols] matrix in blockwise 4-bit form, as bitsandbytes' {@code quantize_4bit} stores it:
 * the row-major flattened elements cut into blocks of {@code blocksize} consecutive elements (the
 * last may be short), element {@code i} standing for {@code codeValues[code(i)] * absmax[i / blocksize]}
 * computed in f32. It is the operand of {@link Backend#matmul(Tensor, boolean, Blockwise4Bit, boolean, Tensor)},
 * which a backend may decode while it multiplies, so no dense copy of the matrix is made.
 *
 * @param codes      u8, contiguous, {@code ceil(rows * cols / 2)} elements of any shape: two codes
 *                   per byte, the first element of a pair in the high nibble; an odd element count
 *                   leaves the last low nibble unused
 * @param codeValues the 16 values the codes stand for, before scaling (NF4's or FP4's table)
 * @param absmax     f32, contiguous, {@code ceil(rows * cols / blocksize)} elements: one scale per block
 * @param blocksize  elements per block, positive
 * @param rows       the matrix's rows
 * @param cols       the matrix's columns
 */
public record Blockwise4Bit(Tensor codes, float[] codeValues, Tensor absmax, int blocksize, int rows, int cols) {
    /** Elements decoded per round of {@link #dequantize}: an even count, so a round starts on a byte. */
    private static final int CHUNK = 8192;

    public Blockwise4Bit {
        Objects.requireNonNull(codes, "codes");
        Objects.requireNonNull(absmax, "absmax");
        if (rows <= 0 || cols <= 0 || blocksize <= 0) {
            throw new IllegalArgumentException("a 4-bit matrix needs positive rows, cols and blocksize, not [" + rows + ", " + cols
                    + "] in blocks of " + blocksize);
        }
        if (codeValues.length != 16) {
            throw new IllegalArgumentException("a 4-bit code table has 16 values, not " + codeValues.length);
        }
        codeValues = codeValues.clone();
        long n = (long) rows * cols;
        require(codes, DType.U8, (n + 1) / 2, "codes");
        require(absmax, DType.F32, (n + blocksize - 1) / blocksize, "absmax");
    }

    private static void require(Tensor t, DType dtype, long count, String what) {
        if (t.dtype() != dtype || t.numel() != count || !t.isContiguous()) {
            throw new IllegalArgumentException("4-bit " + what + " must be " + count + " contiguous " + dtype + " elements, not "
                    + t.dtype() + " " + Shape.str(t.shape()) + (t.isContiguous() ? "" : " (strided)"));
        }
    }

    @Override
    public float[] codeValues() {
        return codeValues.clone();
    }

    /** [rows, cols]. */
    public int[] shape() {
        return new int[] {rows, cols};
    }

    public long numel() {
        return (long) rows * cols;
    }

    /**
     * The dense f32 [rows, cols] matrix, a new tensor of the codes' backend in {@code scope}: what
     * bitsandbytes' {@code dequantize_4bit} gives. Host-memory parts are decoded from and into their
     * segments directly; others are staged through host memory once.
     */
    public Tensor dequantize(Scope scope) {
        Backend be = codes.backend();
        Tensor out = be.empty(DType.F32, shape(), scope);
        if (codes.storage() instanceof NativeStorage c && absmax.storage() instanceof NativeStorage s
                && out.storage() instanceof NativeStorage o) {
            decode(c.segment().asSlice(codes.offset()), s.segment().asSlice(absmax.offset() * Float.BYTES),
                    o.segment().asSlice(out.offset() * Float.BYTES));
            return out;
        }
        try (Arena staging = Arena.ofConfined()) {
            MemorySegment c = staging.allocate(codes.numel());
            MemorySegment s = staging.allocate(absmax.numel() * Float.BYTES);
            MemorySegment o = staging.allocate(numel() * Float.BYTES);
            codes.backend().copyToBytes(codes, c);
            absmax.backend().copyToBytes(absmax, s);
            decode(c, s, o);
            be.copyFromBytes(o, out);
        }
        return out;
    }

    /** Decodes every element from {@code codes} and {@code absmax} into f32 {@code out}, a chunk at a time through small arrays. */
    private void decode(MemorySegment codesSeg, MemorySegment absmaxSeg, MemorySegment outSeg) {
        long n = numel();
        byte[] packed = new byte[CHUNK / 2];
        float[] values = new float[CHUNK];
        for (long from = 0; from < n; from += CHUNK) {
            int count = (int) Math.min(CHUNK, n - from);
            MemorySegment.copy(codesSeg, ValueLayout.JAVA_BYTE, from / 2, packed, 0, (count + 1) / 2);
            int i = 0;
            while (i < count) {
                long block = (from + i) / blocksize;
                int end = (int) Math.min(count, (block + 1) * blocksize - from); // this block's last element in the chunk, exclusive
                float scale = absmaxSeg.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, block);
                for (; i < end; i++) {
                    int b = packed[i >> 1];
                    values[i] = codeValues[(i & 1) == 0 ? (b >> 4) & 0xF : b & 0xF] * scale;
                }
            }
            MemorySegment.copy(values, 0, outSeg, ValueLayout.JAVA_FLOAT_UNALIGNED, from * Float.BYTES, count);
        }
    }

    @Override
    public String toString() {
        return "Blockwise4Bit[" + rows + ", " + cols + "] in blocks of " + blocksize;
    }
}
