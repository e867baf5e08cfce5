package ai.attune.kernels.jvm;

import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.BinaryOp;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Device;
import ai.attune.api.tensor.ReduceOp;
import ai.attune.api.tensor.ScalarOp;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Shape;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.UnaryOp;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The pure-Java backend: FFM memory segments for storage, Vector API kernels for the hot paths,
 * and a scalar path beside each SIMD one ({@code -Dattune.jvm.scalar=true}) that serves as the
 * reference every other backend is tested against.
 */
@Component(service = Backend.class, property = {Backend.PROPERTY + "=jvm", "service.ranking:Integer=0"})
public final class JvmBackend implements Backend {
    private final Object arenaKey = new Object();

    @Override
    public String name() {
        return "jvm";
    }

    @Override
    public Device device() {
        return Device.CPU;
    }

    @Override
    public Tensor zeros(DType dtype, int[] shape, Scope scope) {
        long bytes = Math.multiplyExact(Shape.numel(shape), dtype.byteSize());
        Arena arena = scope.arena(arenaKey, Arena::ofShared);
        // Arena allocations are zero-filled; 64-byte alignment keeps SIMD loads on one cache line.
        MemorySegment seg = arena.allocate(Math.max(bytes, 1), 64);
        return new Tensor(new JvmStorage(this, seg), dtype, shape);
    }

    @Override
    public void copy(Tensor src, Tensor dst) {
        Elementwise.checkOut(dst, src.shape(), "copy");
        Elementwise.copy(src, dst);
    }

    @Override
    public void fill(Tensor dst, double value) {
        Elementwise.fill(dst, value);
    }

    @Override
    public void copyFromBytes(MemorySegment src, Tensor dst) {
        requireContiguous(dst, "copyFromBytes");
        long bytes = dst.numel() * dst.dtype().byteSize();
        MemorySegment.copy(src, 0, Elementwise.seg(dst), dst.offset() * dst.dtype().byteSize(), bytes);
    }

    @Override
    public void copyToBytes(Tensor src, MemorySegment dst) {
        requireContiguous(src, "copyToBytes");
        long bytes = src.numel() * src.dtype().byteSize();
        MemorySegment.copy(Elementwise.seg(src), src.offset() * src.dtype().byteSize(), dst, 0, bytes);
    }

    @Override
    public void binary(BinaryOp op, Tensor a, Tensor b, Tensor out) {
        Elementwise.binary(op, a, b, out);
    }

    @Override
    public void scalar(ScalarOp op, Tensor a, double s, Tensor out) {
        Elementwise.scalar(op, a, s, out);
    }

    @Override
    public void unary(UnaryOp op, Tensor a, Tensor out) {
        Elementwise.unary(op, a, out);
    }

    @Override
    public void unaryBackward(UnaryOp op, Tensor x, Tensor gradOut, Tensor gradIn) {
        Elementwise.unaryBackward(op, x, gradOut, gradIn);
    }

    @Override
    public void where(Tensor cond, Tensor a, Tensor b, Tensor out) {
        Elementwise.where(cond, a, b, out);
    }

    @Override
    public void reduce(ReduceOp op, Tensor a, int[] dims, Tensor out) {
        throw new UnsupportedOperationException("reduce");
    }

    @Override
    public void matmul(Tensor a, boolean transA, Tensor b, boolean transB, Tensor out) {
        throw new UnsupportedOperationException("matmul");
    }

    @Override
    public void softmax(Tensor x, boolean log, Tensor out) {
        throw new UnsupportedOperationException("softmax");
    }

    @Override
    public void softmaxBackward(Tensor y, Tensor gradY, boolean log, Tensor gradX) {
        throw new UnsupportedOperationException("softmaxBackward");
    }

    @Override
    public void rmsNorm(Tensor x, Tensor weight, double eps, Tensor out, Tensor rstd) {
        throw new UnsupportedOperationException("rmsNorm");
    }

    @Override
    public void rmsNormBackward(Tensor x, Tensor weight, Tensor rstd, Tensor gradY, Tensor gradX, Tensor gradWeight) {
        throw new UnsupportedOperationException("rmsNormBackward");
    }

    @Override
    public void layerNorm(Tensor x, Tensor weight, Tensor bias, double eps, Tensor out, Tensor mean, Tensor rstd) {
        throw new UnsupportedOperationException("layerNorm");
    }

    @Override
    public void layerNormBackward(Tensor x, Tensor weight, Tensor mean, Tensor rstd, Tensor gradY, Tensor gradX, Tensor gradWeight, Tensor gradBias) {
        throw new UnsupportedOperationException("layerNormBackward");
    }

    @Override
    public void rope(Tensor x, Tensor positions, float[] invFreq, boolean inverse, Tensor out) {
        throw new UnsupportedOperationException("rope");
    }

    @Override
    public void embedding(Tensor weight, Tensor ids, Tensor out) {
        throw new UnsupportedOperationException("embedding");
    }

    @Override
    public void embeddingBackward(Tensor gradOut, Tensor ids, Tensor gradWeight) {
        throw new UnsupportedOperationException("embeddingBackward");
    }

    @Override
    public void indexSelect(Tensor src, int dim, Tensor ids, Tensor out) {
        throw new UnsupportedOperationException("indexSelect");
    }

    @Override
    public void indexAdd(Tensor gradOut, int dim, Tensor ids, Tensor gradSrc) {
        throw new UnsupportedOperationException("indexAdd");
    }

    @Override
    public void crossEntropy(Tensor logits, Tensor targets, long ignoreIndex, Tensor loss, Tensor lse) {
        throw new UnsupportedOperationException("crossEntropy");
    }

    @Override
    public void crossEntropyBackward(Tensor logits, Tensor targets, long ignoreIndex, Tensor lse, Tensor gradLoss, Tensor gradLogits) {
        throw new UnsupportedOperationException("crossEntropyBackward");
    }

    @Override
    public void dropout(Tensor x, double p, long seed, Tensor out, Tensor mask) {
        throw new UnsupportedOperationException("dropout");
    }

    @Override
    public void attention(Tensor q, Tensor k, Tensor v, Tensor keyMask, boolean causal, double scale, Tensor out, Tensor lse) {
        throw new UnsupportedOperationException("attention");
    }

    @Override
    public void attentionBackward(Tensor q, Tensor k, Tensor v, Tensor keyMask, boolean causal, double scale, Tensor out, Tensor lse,
                                  Tensor gradOut, Tensor gradQ, Tensor gradK, Tensor gradV) {
        throw new UnsupportedOperationException("attentionBackward");
    }

    @Deactivate
    @Override
    public void shutdown() {}

    private static void requireContiguous(Tensor t, String op) {
        if (!t.isContiguous()) {
            throw new IllegalArgumentException(op + ": tensor " + t + " must be contiguous");
        }
    }
}
