package ai.attune.kernels.torch;

import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.BinaryOp;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Device;
import ai.attune.api.tensor.KernelOps;
import ai.attune.api.tensor.OpProfile;
import ai.attune.api.tensor.ReduceOp;
import ai.attune.api.tensor.ScalarOp;
import ai.attune.api.tensor.NativeStorage;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.UnaryOp;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.global.torch;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;

import java.lang.foreign.MemorySegment;

/**
 * The libtorch backend on CPU. Tensors are Java-owned, exactly as the jvm backend's: 64-byte
 * aligned native segments from the scope's arena. Each kernel views its operands zero-copy as
 * {@code at::Tensor}s ({@code from_blob}) and runs ATen's op into the output, so libtorch brings
 * its kernels (oneDNN bf16 GEMM, the fused CPU attention) but never owns memory; every ATen object
 * a kernel makes dies in that kernel's {@link PointerScope}.
 *
 * <p>Dropout delegates to the jvm backend: its keep-mask is a pure function of (seed, element
 * index), and a run must draw the same mask whichever backend it is on. So does
 * {@link #measurePeakGflops} (same CPU). The jvm backend is a service reference, not a class
 * dependency: the two bundles share nothing but the API.
 *
 * <p>Ranked below the jvm backend, so commands keep the jvm backend (the same bits on every machine)
 * unless they ask for this one ({@code --backend torch}, {@code train.backend: torch | auto}).
 *
 * <p>libtorch's natives load when the backend is constructed, from the JavaCPP cache
 * ({@code org.bytedeco.javacpp.cachedir}, set by the launcher, else {@code ~/.javacpp/cache}),
 * which {@link NativeCache} fills completely first ({@link Libtorch}).
 */
@Component(service = Backend.class, property = {Backend.PROPERTY + "=torch", "service.ranking:Integer=-10"})
public final class TorchBackend implements Backend {
    private final Backend jvm;
    private final String unavailable;

    /**
     * Loads libtorch. A backend whose natives fail to load (another OS or CPU, a broken cache)
     * still registers, with {@link #unavailableReason()} saying why, so that the reason can be shown.
     *
     * @param jvm the jvm backend, for dropout's mask and the FMA peak
     */
    @Activate
    public TorchBackend(@Reference(name = "jvm", target = "(" + Backend.PROPERTY + "=jvm)") Backend jvm) {
        this.jvm = jvm;
        String reason = Libtorch.unavailableReason();
        if (reason == null) {
            // ATen's intra-op pool (OpenMP) would size itself from the cores it sees, ignoring a
            // container's CPU quota; the JVM's count honours it.
            torch.set_num_threads(Runtime.getRuntime().availableProcessors());
        }
        this.unavailable = reason;
    }

    /** bf16 where oneDNN multiplies it natively on this CPU; ATen's f32 kernels otherwise. */
    @Override
    public DType preferredAutocastDType() {
        return CpuFlags.nativeBf16() ? DType.BF16 : DType.F32;
    }

    @Override
    public String unavailableReason() {
        return unavailable;
    }

    @Override
    public String name() {
        return "torch";
    }

    @Override
    public Device device() {
        return Device.CPU;
    }

    @Override
    public Tensor zeros(DType dtype, int[] shape, Scope scope) {
        try (OpProfile.Op profiled = OpProfile.op(KernelOps.ZEROS)) {
            return new Tensor(new TorchStorage(this, NativeStorage.allocate(scope, dtype, shape, true), scope), dtype, shape);
        }
    }

    @Override
    public Tensor empty(DType dtype, int[] shape, Scope scope) {
        try (OpProfile.Op profiled = OpProfile.op(KernelOps.EMPTY)) {
            return new Tensor(new TorchStorage(this, NativeStorage.allocate(scope, dtype, shape, false), scope), dtype, shape);
        }
    }

    @Override
    public void copy(Tensor src, Tensor dst) {
        kernel(KernelOps.COPY, () -> Elementwise.copy(src, dst));
    }

    @Override
    public void fill(Tensor dst, double value) {
        kernel(KernelOps.FILL, () -> Elementwise.fill(dst, value));
    }

    @Override
    public void copyFromBytes(MemorySegment src, Tensor dst) {
        try (OpProfile.Op profiled = OpProfile.op(KernelOps.COPY_FROM_BYTES)) {
            Aten.requireContiguous(dst, "copyFromBytes", "dst");
            long bytes = dst.numel() * dst.dtype().byteSize();
            MemorySegment.copy(src, 0, Aten.segment(dst), dst.offset() * dst.dtype().byteSize(), bytes);
        }
    }

    @Override
    public void copyToBytes(Tensor src, MemorySegment dst) {
        try (OpProfile.Op profiled = OpProfile.op(KernelOps.COPY_TO_BYTES)) {
            Aten.requireContiguous(src, "copyToBytes", "src");
            long bytes = src.numel() * src.dtype().byteSize();
            MemorySegment.copy(Aten.segment(src), src.offset() * src.dtype().byteSize(), dst, 0, bytes);
        }
    }

    @Override
    public void binary(BinaryOp op, Tensor a, Tensor b, Tensor out) {
        kernel(KernelOps.binary(op), () -> Elementwise.binary(op, a, b, out));
    }

    @Override
    public void scalar(ScalarOp op, Tensor a, double s, Tensor out) {
        kernel(KernelOps.scalar(op), () -> Elementwise.tensorScalar(op, a, s, out));
    }

    @Override
    public void unary(UnaryOp op, Tensor a, Tensor out) {
        kernel(KernelOps.unary(op), () -> Elementwise.unary(op, a, out));
    }

    @Override
    public void unaryBackward(UnaryOp op, Tensor x, Tensor gradOut, Tensor gradIn) {
        kernel(KernelOps.unaryBackward(op), () -> Elementwise.unaryBackward(op, x, gradOut, gradIn));
    }

    @Override
    public void where(Tensor cond, Tensor a, Tensor b, Tensor out) {
        kernel(KernelOps.WHERE, () -> Elementwise.where(cond, a, b, out));
    }

    @Override
    public void reduce(ReduceOp op, Tensor a, int[] dims, Tensor out) {
        kernel(KernelOps.reduce(op), () -> Reductions.reduce(op, a, dims, out));
    }

    @Override
    public void matmul(Tensor a, boolean transA, Tensor b, boolean transB, Tensor out) {
        kernel(KernelOps.matmul(out), KernelOps.matmulFlops(a, transA, out), () -> Matmul.matmul(a, transA, b, transB, out));
    }

    @Override
    public void softmax(Tensor x, boolean log, Tensor out) {
        kernel(KernelOps.softmax(log), () -> Normalization.softmax(x, log, out));
    }

    @Override
    public void softmaxBackward(Tensor y, Tensor gradY, boolean log, Tensor gradX) {
        kernel(KernelOps.softmaxBackward(log), () -> Normalization.softmaxBackward(y, gradY, log, gradX));
    }

    @Override
    public void rmsNorm(Tensor x, Tensor weight, double eps, Tensor out, Tensor rstd) {
        kernel(KernelOps.RMS_NORM, () -> Normalization.rmsNorm(x, weight, eps, out, rstd));
    }

    @Override
    public void rmsNormBackward(Tensor x, Tensor weight, Tensor rstd, Tensor gradY, Tensor gradX, Tensor gradWeight) {
        kernel(KernelOps.RMS_NORM_BACKWARD, () -> Normalization.rmsNormBackward(x, weight, rstd, gradY, gradX, gradWeight));
    }

    @Override
    public void layerNorm(Tensor x, Tensor weight, Tensor bias, double eps, Tensor out, Tensor mean, Tensor rstd) {
        kernel(KernelOps.LAYER_NORM, () -> Normalization.layerNorm(x, weight, bias, eps, out, mean, rstd));
    }

    @Override
    public void layerNormBackward(Tensor x, Tensor weight, Tensor mean, Tensor rstd, Tensor gradY, Tensor gradX,
                                  Tensor gradWeight, Tensor gradBias) {
        kernel(KernelOps.LAYER_NORM_BACKWARD, () -> Normalization.layerNormBackward(x, weight, mean, rstd, gradY, gradX, gradWeight, gradBias));
    }

    @Override
    public void rope(Tensor x, Tensor positions, float[] invFreq, boolean inverse, Tensor out) {
        kernel(KernelOps.rope(inverse), () -> Rotary.rope(x, positions, invFreq, inverse, out));
    }

    @Override
    public void embedding(Tensor weight, Tensor ids, Tensor out) {
        kernel(KernelOps.EMBEDDING, () -> Indexing.embedding(weight, ids, out));
    }

    @Override
    public void embeddingBackward(Tensor gradOut, Tensor ids, Tensor gradWeight) {
        kernel(KernelOps.EMBEDDING_BACKWARD, () -> Indexing.embeddingBackward(gradOut, ids, gradWeight));
    }

    @Override
    public void indexSelect(Tensor src, int dim, Tensor ids, Tensor out) {
        kernel(KernelOps.INDEX_SELECT, () -> Indexing.indexSelect(src, dim, ids, out));
    }

    @Override
    public void indexAdd(Tensor gradOut, int dim, Tensor ids, Tensor gradSrc) {
        kernel(KernelOps.INDEX_ADD, () -> Indexing.indexAdd(gradOut, dim, ids, gradSrc));
    }

    @Override
    public void crossEntropy(Tensor logits, Tensor targets, long ignoreIndex, Tensor loss, Tensor lse) {
        kernel(KernelOps.CROSS_ENTROPY, () -> CrossEntropy.forward(logits, targets, ignoreIndex, loss, lse));
    }

    @Override
    public void crossEntropyBackward(Tensor logits, Tensor targets, long ignoreIndex, Tensor lse, Tensor gradLoss, Tensor gradLogits) {
        kernel(KernelOps.CROSS_ENTROPY_BACKWARD, () -> CrossEntropy.backward(logits, targets, ignoreIndex, lse, gradLoss, gradLogits));
    }

    @Override
    public void dropout(Tensor x, double p, long seed, Tensor out, Tensor mask) {
        jvm.dropout(x, p, seed, out, mask);
    }

    @Override
    public void attention(Tensor q, Tensor k, Tensor v, Tensor keyMask, boolean causal, double scale, Tensor out, Tensor lse) {
        kernel(KernelOps.ATTENTION, KernelOps.attentionFlops(q, k, causal), () -> {
            if (FlashAttention.faster(q, k, v)) {
                FlashAttention.forward(q, k, v, keyMask, causal, scale, out, lse);
            } else {
                Attention.forward(q, k, v, keyMask, causal, scale, out, lse);
            }
        });
    }

    @Override
    public void attentionBackward(Tensor q, Tensor k, Tensor v, Tensor keyMask, boolean causal, double scale, Tensor out, Tensor lse,
                                  Tensor gradOut, Tensor gradQ, Tensor gradK, Tensor gradV) {
        kernel(KernelOps.ATTENTION_BACKWARD, KernelOps.attentionBackwardFlops(q, k, causal), () -> {
            if (FlashAttention.faster(q, k, v)) {
                FlashAttention.backward(q, k, v, keyMask, causal, scale, out, lse, gradOut, gradQ, gradK, gradV);
            } else {
                Attention.backward(q, k, v, keyMask, causal, scale, out, lse, gradOut, gradQ, gradK, gradV);
            }
        });
    }

    @Override
    public double measurePeakGflops() {
        return jvm.measurePeakGflops();
    }

    /**
     * Runs one kernel in its own pointer scope, so every ATen temporary it makes is freed when it
     * returns; refuses when libtorch did not load; and turns a c10::Error (a bare RuntimeException carrying a C++ backtrace) into one
     * line that names the op; records it in the {@link OpProfile} under {@code op}.
     */
    private void kernel(String op, Runnable body) {
        kernel(op, 0, body);
    }

    private void kernel(String op, double flops, Runnable body) {
        if (unavailable != null) {
            throw new IllegalStateException("torch backend, " + op + ": " + unavailable);
        }
        try (OpProfile.Op profiled = OpProfile.op(op, flops); PointerScope ignored = new PointerScope()) {
            body.run();
        } catch (RuntimeException e) {
            String m = e.getMessage();
            if (e.getClass() == RuntimeException.class && m != null && m.contains("Exception raised from")) {
                throw new IllegalArgumentException("torch backend, " + op + ": " + m.lines().findFirst().orElse(m), e);
            }
            throw e;
        }
    }
}
