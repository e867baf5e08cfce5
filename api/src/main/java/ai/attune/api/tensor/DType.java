package ai.attune.api.tensor;

/**
 * Element types of a tensor. The names and byte sizes are those of safetensors and PyTorch
 * ({@code torch.float32} is {@link #F32}, {@code torch.bfloat16} is {@link #BF16}, and so on).
 */
public enum DType {
    F32(4, "F32", true),
    F64(8, "F64", true),
    BF16(2, "BF16", true),
    F16(2, "F16", true),
    I64(8, "I64", false),
    I32(4, "I32", false),
    U8(1, "U8", false),
    BOOL(1, "BOOL", false);

    private final int byteSize;
    private final String safetensorsName;
    private final boolean floatingPoint;

    DType(int byteSize, String safetensorsName, boolean floatingPoint) {
        this.byteSize = byteSize;
        this.safetensorsName = safetensorsName;
        this.floatingPoint = floatingPoint;
    }

    /** Bytes one element takes in storage. */
    public int byteSize() {
        return byteSize;
    }

    /** The dtype string of the safetensors header, e.g. {@code "BF16"}. */
    public String safetensorsName() {
        return safetensorsName;
    }

    public boolean isFloatingPoint() {
        return floatingPoint;
    }

    /** The dtype of a safetensors header string, or {@code null} when the string names no supported dtype. */
    public static DType fromSafetensorsName(String name) {
        for (DType t : values()) {
            if (t.safetensorsName.equals(name)) {
                return t;
            }
        }
        return null;
    }

    /** bf16 is the top half of an f32, so widening is a shift. */
    public static float bf16ToFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xFFFF) << 16);
    }

    /** Round to nearest even, NaN stays a quiet NaN: what {@code c10::BFloat16(float)} does. */
    public static short floatToBf16(float f) {
        if (Float.isNaN(f)) {
            return (short) 0x7FC0;
        }
        int bits = Float.floatToRawIntBits(f);
        return (short) ((bits + 0x7FFF + ((bits >>> 16) & 1)) >>> 16);
    }
}
