package ai.attune.plugins.quant.bnb4;

import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;

import java.lang.foreign.MemorySegment;

/** Moves the quantizer's Java arrays in and out of tensors of any backend, one copy each way. */
final class TensorBytes {
    private TensorBytes() {}

    /** The elements as float32, widened exactly from bf16/f16. */
    static float[] floats(Tensor t) {
        float[] out = new float[Math.toIntExact(t.numel())];
        if (t.dtype() == DType.F32 && t.isContiguous()) {
            t.backend().copyToBytes(t, MemorySegment.ofArray(out));
            return out;
        }
        try (Scope staging = Scope.detached("bnb4-staging")) {
            Tensor f32 = t.backend().zeros(DType.F32, t.shape(), staging);
            t.backend().copy(t, f32);
            t.backend().copyToBytes(f32, MemorySegment.ofArray(out));
        }
        return out;
    }

    /** The bytes of a uint8 tensor. */
    static byte[] bytes(Tensor t) {
        byte[] out = new byte[Math.toIntExact(t.numel())];
        t.backend().copyToBytes(t, MemorySegment.ofArray(out));
        return out;
    }

    static Tensor f32(Backend be, float[] data, int[] shape, Scope scope) {
        Tensor t = be.empty(DType.F32, shape, scope);
        be.copyFromBytes(MemorySegment.ofArray(data), t);
        return t;
    }

    static Tensor u8(Backend be, byte[] data, int[] shape, Scope scope) {
        Tensor t = be.empty(DType.U8, shape, scope);
        be.copyFromBytes(MemorySegment.ofArray(data), t);
        return t;
    }
}
