package ai.attune.api.autograd;

import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Tensor;

/**
 * Mixed precision on the calling thread, as {@code torch.autocast(device_type="cpu", dtype=...)}:
 * inside a region, matrix products ({@link Ops#matmul}, {@link F#linear}, {@link F#attention}) cast
 * their f32 inputs to the low-precision dtype and return it, while softmax, the norms and
 * cross-entropy cast low-precision inputs up to f32; every other op follows type promotion. The
 * casts are recorded, so gradients flow back to the f32 master weights in f32.
 */
public final class Autocast {
    private static final ThreadLocal<DType[]> DTYPE = ThreadLocal.withInitial(() -> new DType[1]);

    private Autocast() {}

    /** A region computing products in {@code lowPrecision} (BF16 or F16); closing restores the previous state. */
    public static Region enable(DType lowPrecision) {
        if (lowPrecision != DType.BF16 && lowPrecision != DType.F16) {
            throw new IllegalArgumentException("autocast runs products in bf16 or f16, not " + lowPrecision);
        }
        return set(lowPrecision);
    }

    /** A region without autocast, e.g. to compute something in full precision inside one. */
    public static Region disable() {
        return set(null);
    }

    /** The low-precision dtype of the current region, or null outside one. */
    public static DType dtype() {
        return DTYPE.get()[0];
    }

    private static Region set(DType value) {
        DType[] slot = DTYPE.get();
        DType previous = slot[0];
        slot[0] = value;
        return () -> slot[0] = previous;
    }

    /** {@code t} as a product input: cast to the region's dtype when it is f32 and a region is open. */
    static Tensor lower(Tensor t) {
        DType low = dtype();
        return low != null && t != null && t.dtype() == DType.F32 ? Ops.to(t, low) : t;
    }

    /** {@code t} as a precision-sensitive input: cast up to f32 when it is low precision and a region is open. */
    static Tensor widen(Tensor t) {
        return dtype() != null && t != null && (t.dtype() == DType.BF16 || t.dtype() == DType.F16) ? Ops.to(t, DType.F32) : t;
    }

    /** An autocast region; closing it restores the state before it. */
    public interface Region extends AutoCloseable {
        @Override
        void close();
    }
}
