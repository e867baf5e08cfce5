package ai.attune.kernels.jvm.gemm;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Storage type of a GEMM operand. Sixteen-bit operands stay 16-bit in memory and are widened to
 * f32 while packing, so the micro-kernel only ever sees f32 and accumulates in f32.
 */
public enum ElementType {
    F32(4),
    BF16(2),
    F16(2);

    private final int byteSize;

    ElementType(int byteSize) {
        this.byteSize = byteSize;
    }

    /** Bytes one element takes in memory. */
    public int byteSize() {
        return byteSize;
    }

    /** The element at {@code index} (counted in elements of this type), widened to f32. */
    public float load(MemorySegment segment, long index) {
        return switch (this) {
            case F32 -> segment.get(ValueLayout.JAVA_FLOAT_UNALIGNED, index * 4);
            case BF16 -> bf16ToFloat(segment.get(ValueLayout.JAVA_SHORT_UNALIGNED, index * 2));
            case F16 -> Float.float16ToFloat(segment.get(ValueLayout.JAVA_SHORT_UNALIGNED, index * 2));
        };
    }

    /** bf16 is the top half of an f32, so widening is a shift; the sign-extended high bits fall off. */
    static float bf16ToFloat(short bits) {
        return ai.attune.api.tensor.DType.bf16ToFloat(bits);
    }
}
