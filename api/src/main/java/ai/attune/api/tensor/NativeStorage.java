package ai.attune.api.tensor;

import java.lang.foreign.MemorySegment;

/**
 * Storage that is plain native memory the JVM can address: one {@link MemorySegment} holding the
 * whole storage, little-endian, with element {@code i} of a tensor of dtype {@code t} at byte
 * {@code (offset + i) * t.byteSize()}.
 *
 * <p>Backends whose tensors live in host memory (the jvm backend, the libtorch backend on CPU)
 * implement it, so that a kernel of one can read and write the other's tensors without a copy:
 * the libtorch backend wraps any such segment as an {@code at::Tensor}, and the jvm kernels read
 * any such segment directly.
 */
public interface NativeStorage extends Storage {
    /** The storage's memory, valid until its scope closes. */
    MemorySegment segment();

    @Override
    default long byteSize() {
        return segment().byteSize();
    }

    @Override
    default void release() {
        scope().release(segment());
    }

    /**
     * Memory for a tensor of {@code dtype} and {@code shape}, owned by {@code scope}, zero-filled
     * when {@code zeroed}; 64-byte aligned so SIMD loads stay on one cache line.
     */
    static MemorySegment allocate(Scope scope, DType dtype, int[] shape, boolean zeroed) {
        return scope.allocate(Math.multiplyExact(Shape.numel(shape), dtype.byteSize()), zeroed);
    }
}
