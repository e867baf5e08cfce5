package ai.attune.kernels.jvm;

import ai.attune.api.tensor.DType;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Scalar element access for every dtype, the way PyTorch converts: float to bf16 and f16 rounds
 * to nearest even, float to integer truncates toward zero, double narrows to float first.
 */
final class Elements {
    static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;
    static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED;
    static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED;
    static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED;
    static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED;

    private Elements() {}

    static double get(MemorySegment s, DType t, long i) {
        return switch (t) {
            case F32 -> s.getAtIndex(F32, i);
            case F64 -> s.getAtIndex(F64, i);
            case BF16 -> bf16ToFloat(s.getAtIndex(I16, i));
            case F16 -> Float.float16ToFloat(s.getAtIndex(I16, i));
            case I64 -> s.getAtIndex(I64, i);
            case I32 -> s.getAtIndex(I32, i);
            case U8 -> Byte.toUnsignedInt(s.get(ValueLayout.JAVA_BYTE, i));
            case BOOL -> s.get(ValueLayout.JAVA_BYTE, i) != 0 ? 1 : 0;
        };
    }

    static long getLong(MemorySegment s, DType t, long i) {
        return switch (t) {
            case I64 -> s.getAtIndex(I64, i);
            case I32 -> s.getAtIndex(I32, i);
            case U8 -> Byte.toUnsignedInt(s.get(ValueLayout.JAVA_BYTE, i));
            case BOOL -> s.get(ValueLayout.JAVA_BYTE, i) != 0 ? 1 : 0;
            default -> (long) get(s, t, i);
        };
    }

    static void set(MemorySegment s, DType t, long i, double v) {
        switch (t) {
            case F32 -> s.setAtIndex(F32, i, (float) v);
            case F64 -> s.setAtIndex(F64, i, v);
            case BF16 -> s.setAtIndex(I16, i, floatToBf16((float) v));
            case F16 -> s.setAtIndex(I16, i, Float.floatToFloat16((float) v));
            case I64 -> s.setAtIndex(I64, i, (long) v);
            case I32 -> s.setAtIndex(I32, i, (int) (long) v);
            case U8 -> s.set(ValueLayout.JAVA_BYTE, i, (byte) (long) v);
            case BOOL -> s.set(ValueLayout.JAVA_BYTE, i, (byte) (v != 0 ? 1 : 0));
        }
    }

    static void setLong(MemorySegment s, DType t, long i, long v) {
        switch (t) {
            case I64 -> s.setAtIndex(I64, i, v);
            case I32 -> s.setAtIndex(I32, i, (int) v);
            case U8 -> s.set(ValueLayout.JAVA_BYTE, i, (byte) v);
            case BOOL -> s.set(ValueLayout.JAVA_BYTE, i, (byte) (v != 0 ? 1 : 0));
            default -> set(s, t, i, v);
        }
    }

    static float bf16ToFloat(short bits) {
        return DType.bf16ToFloat(bits);
    }

    static short floatToBf16(float f) {
        return DType.floatToBf16(f);
    }
}
