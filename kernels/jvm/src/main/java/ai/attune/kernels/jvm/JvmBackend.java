package ai.attune.kernels.jvm;

import ai.attune.api.tensor.AdamWStep;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.BinaryOp;
import ai.attune.api.tensor.Blockwise4Bit;
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
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;

import ai.attune.kernels.jvm.gemm.FmaPeak;
import ai.attune.kernels.jvm.gemm.Gemm;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The pure-Java backend: FFM memory segments for storage, Vector API kernels for the hot paths,
 * and a scalar path beside each SIMD one ({@code -Dattune.jvm.scalar=true}) that serves as the
 * reference every other backend is tested against.
 *
 * <p>Every kernel runs inside an {@link OpProfile.Op} named as {@link KernelOps} names it, which
 * costs one branch while no profile is recording.
 */
@Component(service = Backend.class, property = {Backend.PROPERTY + "=jvm", "service.ranking:Integer=0"})
public final class JvmBackend implements Backend {
    private final boolean scalar;
    private final RopeTables ropeTables = new RopeTables();
    private ExecutorService pool;
    private Gemm gemm;

    /** The backend as DS creates it: SIMD kernels unless {@code -Dattune.jvm.scalar=true}. */
    public JvmBackend() {
        this(Boolean.getBoolean("attune.jvm.scalar"));
    }

    /** A backend on the scalar reference path ({@code true}) or the SIMD kernels. */
    public JvmBackend(boolean scalar) {
        this.scalar = scalar;
    }

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
        try (OpProfile.Op profiled = OpProfile.op(KernelOps.ZEROS)) {
            return new Tensor(new JvmStorage(this, NativeStorage.allocate(scope, dtype, shape, true), scope), dtype, shape);
        }
    }

    @Override
    public Tensor empty(DType dtype, int[] shape, Scope scope) {
        try (OpProfile.Op profiled = OpProfile.op(KernelOps.EMPTY)) {
            return new Tensor(new JvmStorage(this, NativeStorage.allocate(scope, dtype, shape, false), scope), dtype, shape);
        }
    }

    @Override
    public void copy(Tensor src, Tensor dst) {
        try (OpProfile.Op profiled = OpProfile.op(KernelOps.COPY)) {
            Elementwise.checkOut(dst, src.shape(), "copy");
            if (!scalar && FastElementwise.copy(src, dst)) {
                return;
            }
            Elementwise.copy(src, dst);
        }
    }

    @Override
    public void fill(Tensor dst, double value) {
        try (OpProfile.Op profiled = OpProfile.op(KernelOps.FILL)) {
            if (!scalar && FastElementwise.fill(dst, value, pool(), threads())) {
                return;
            }
            Elementwise.fill(dst, value);
        }
    }

    @Override
    public void copyFromBytes(MemorySegment src, Tensor dst) {
        try (OpProfile.Op profiled = OpProfile.op(KernelOps.COPY_FROM_BYTES)) {
            requireContiguous(dst, "copyFromBytes");
            long bytes = dst.numel() * dst.dtype().byteSize();
            MemorySegment.copy(src, 0, Elementwise.seg(dst), dst.offset() * dst.dtype().byteSize(), bytes);
        }
    }

    @Override
    public void copyToBytes(Tensor src, MemorySegment dst) {
        try (OpProfile.Op profiled = OpProfile.op(KernelOps.COPY_TO_BYTES)) {
            requireContiguous(src, "copyToBytes");
            long bytes = src.numel() * src.dtype().byteSize();
            MemorySegment.copy(Elementwise.seg(src), src.offset() * src.dtype().byteSize(), dst, 0, bytes);
        }
    }

    @Override
    public void binary(BinaryOp op, Tensor a, Tensor b, Tensor out) {
        try (OpProfile.Op profiled = OpProfile.op(KernelOps.binary(op))) {
            if (!scalar && FastElementwise.binary(op, a, b, out, pool(), threads())) {
                return;
            }
            Elementwise.binary(op, a, b, out);
        }
    }

    @Override
    public void scalar(ScalarOp op, Tensor a, double s, Tensor out) {
        try (OpProfile.Op profiled = OpProfile.op(KernelOps.scalar(op))) {
            if (!scalar && FastElementwise.scalar(op, a, s, out, pool(), threads())) {
                return;
            }
            Elementwise.scalar(op, a, s, out);
        }
    }

    @Override
    public void unary(UnaryOp op, Tensor a, Tensor out) {
        try (OpProfile.Op profiled = OpProfile.op(KernelOps.unary(op))) {
            if (!scalar && FastActivations.unary(op, a, out, pool(), threads())) {
                return;
            }
            Elementwise.unary(op, a, out);
        }
    }

    @Override
    public void unaryBackward(UnaryOp op, Tensor x, Tensor gradOut, Tensor gradIn) {
        try (OpProfile.Op profiled = OpProfile.op(KernelOps.unaryBackward(op))) {
            if (!scalar && FastActivations.unaryBackward(op, x, gradOut, gradIn, pool(), threads())) {
                return;
            }
            Elementwise.unaryBackward(op, x, gradOut, gradIn);
        }
    }

    @Override
    public void where(Tensor cond, Tensor a, Tensor b, Tensor out) {
        try (OpProfile.Op profiled = OpProfile.op(KernelOps.WHERE)) {
            Elementwise.where(cond, a, b, out);
        }
    }

    /**
     * One pass over contiguous f32 tensors ({@link FastAdamW}, or its scalar reference
     * {@link AdamW} on the scalar path); other dtypes and layouts take the composed default.
     */
    @Override
    public void adamwStep(AdamWStep h, Tensor param, Tensor grad, Tensor expAvg, Tensor expAvgSq, Tensor maxExpAvgSq) {
        AdamW.Operands o = AdamW.Operands.of(param, grad, expAvg, expAvgSq, maxExpAvgSq);
        if (o == null) {
            Backend.super.adamwStep(h, param, grad, expAvg, expAvgSq, maxExpAvgSq);
            return;
        }
        try (OpProfile.Op profiled = OpProfile.op(KernelOps.FUSED_ADAMW)) {
            AdamW.Scalars s = AdamW.Scalars.of(h);
            if (scalar) {
                AdamW.update(s, o, 0, o.n());
            } else {
                FastAdamW.update(s, o, pool(), threads());
            }
        }
    }

    @Override
    public double sumOfSquares(Tensor t) {
        if (!scalar && t.dtype() == DType.F32 && t.isContiguous()) {
            try (OpProfile.Op profiled = OpProfile.op(KernelOps.reduce(ReduceOp.SUM))) {
                return FastReductions.sumOfSquares(t, pool(), threads());
            }
        }
        return Backend.super.sumOfSquares(t);
    }

    @Override
    public void reduce(ReduceOp op, Tensor a, int[] dims, Tensor out) {
        try (OpProfile.Op profiled = OpProfile.op(KernelOps.reduce(op))) {
            if (!scalar && FastReductions.reduce(op, a, dims, out, pool(), threads())) {
                return;
            }
            Reductions.reduce(op, a, dims, out);
        }
    }

    @Override
    public void matmul(Tensor a, boolean transA, Tensor b, boolean transB, Tensor out) {
        try (OpProfile.Op profiled = OpProfile.op(KernelOps.matmul(out), KernelOps.matmulFlops(a, transA, out))) {
            Gemm g = gemm();
            Matmul.matmul(this, g, pool, threads(), a, transA, b, transB, out);
        }
    }

    /** The bias joins in the GEMM's write-back where the product runs packed into f32. */
    @Override
    public void addmm(Tensor bias, Tensor a, boolean transA, Tensor b, boolean transB, Tensor out) {
        try (OpProfile.Op profiled = OpProfile.op(KernelOps.ADDMM, KernelOps.matmulFlops(a, transA, out))) {
            Matmul.addmm(this, gemm(), pool, threads(), bias, a, transA, b, transB, out);
        }
    }

    /** Decodes b while the GEMM packs it, where the operands allow; else the dequantizing default. */
    @Override
    public void matmul(Tensor a, boolean transA, Blockwise4Bit b, boolean transB, Tensor out) {
        try (OpProfile.Op profiled = OpProfile.op(KernelOps.MM_4BIT, KernelOps.matmulFlops(a, transA, out))) {
            if (!FourBitMatmul.matmul(this, gemm(), a, transA, b, transB, out)) {
                Backend.super.matmul(a, transA, b, transB, out);
            }
        }
    }

    @Override
    public void softmax(Tensor x, boolean log, Tensor out) {
        try (OpProfile.Op profiled = OpProfile.op(KernelOps.softmax(log))) {
            Elementwise.checkOut(out, x.shape(), "softmax");
            if (!scalar && FastSoftmax.softmax(x, log, out, pool(), threads())) {
                return;
            }
            Normalization.softmax(x, log, out);
        }
    }

    @Override
    public void softmaxBackward(Tensor y, Tensor gradY, boolean log, Tensor gradX) {
        try (OpProfile.Op profiled = OpProfile.op(KernelOps.softmaxBackward(log))) {
            if (!scalar && FastSoftmax.softmaxBackward(y, gradY, log, gradX, pool(), threads())) {
                return;
            }
            Normalization.softmaxBackward(y, gradY, log, gradX);
        }
    }

    @Override
    public void rmsNorm(Tensor x, Tensor weight, double eps, Tensor out, Tensor rstd) {
        try (OpProfile.Op profiled = OpProfile.op(KernelOps.RMS_NORM)) {
            Elementwise.checkOut(out, x.shape(), "rms_norm");
            if (!scalar && FastNormalization.rmsNorm(x, weight, eps, out, rstd, pool(), threads())) {
                return;
            }
            Normalization.rmsNorm(x, weight, eps, out, rstd);
        }
    }

    @Override
    public void rmsNormBackward(Tensor x, Tensor weight, Tensor rstd, Tensor gradY, Tensor gradX, Tensor gradWeight) {
        try (OpProfile.Op profiled = OpProfile.op(KernelOps.RMS_NORM_BACKWARD)) {
            if (!scalar && FastNormalization.rmsNormBackward(x, weight, rstd, gradY, gradX, gradWeight, pool(), threads())) {
                return;
            }
            Normalization.rmsNormBackward(x, weight, rstd, gradY, gradX, gradWeight);
        }
    }

    @Override
    public void layerNorm(Tensor x, Tensor weight, Tensor bias, double eps, Tensor out, Tensor mean, Tensor rstd) {
        try (OpProfile.Op profiled = OpProfile.op(KernelOps.LAYER_NORM)) {
            Elementwise.checkOut(out, x.shape(), "layer_norm");
            if (!scalar && FastNormalization.layerNorm(x, weight, bias, eps, out, mean, rstd, pool(), threads())) {
                return;
            }
            Normalization.layerNorm(x, weight, bias, eps, out, mean, rstd);
        }
    }

    @Override
    public void layerNormBackward(Tensor x, Tensor weight, Tensor mean, Tensor rstd, Tensor gradY, Tensor gradX, Tensor gradWeight, Tensor gradBias) {
        try (OpProfile.Op profiled = OpProfile.op(KernelOps.LAYER_NORM_BACKWARD)) {
            if (!scalar && FastNormalization.layerNormBackward(x, weight, mean, rstd, gradY, gradX, gradWeight, gradBias, pool(), threads())) {
                return;
            }
            Normalization.layerNormBackward(x, weight, mean, rstd, gradY, gradX, gradWeight, gradBias);
        }
    }

    @Override
    public void rope(Tensor x, Tensor positions, float[] invFreq, boolean inverse, Tensor out) {
        try (OpProfile.Op profiled = OpProfile.op(KernelOps.rope(inverse))) {
            if (!scalar && FastRotary.rope(x, positions, invFreq, inverse, out, ropeTables, pool(), threads())) {
                return;
            }
            Rotary.rope(x, positions, invFreq, inverse, out);
        }
    }

    @Override
    public void embedding(Tensor weight, Tensor ids, Tensor out) {
        try (OpProfile.Op profiled = OpProfile.op(KernelOps.EMBEDDING)) {
            Indexing.embedding(weight, ids, out);
        }
    }

    @Override
    public void embeddingBackward(Tensor gradOut, Tensor ids, Tensor gradWeight) {
        try (OpProfile.Op profiled = OpProfile.op(KernelOps.EMBEDDING_BACKWARD)) {
            Indexing.embeddingBackward(gradOut, ids, gradWeight);
        }
    }

    @Override
    public void indexSelect(Tensor src, int dim, Tensor ids, Tensor out) {
        try (OpProfile.Op profiled = OpProfile.op(KernelOps.INDEX_SELECT)) {
            Indexing.indexSelect(src, dim, ids, out);
        }
    }

    @Override
    public void indexAdd(Tensor gradOut, int dim, Tensor ids, Tensor gradSrc) {
        try (OpProfile.Op profiled = OpProfile.op(KernelOps.INDEX_ADD)) {
            Indexing.indexAdd(gradOut, dim, ids, gradSrc);
        }
    }

    @Override
    public void crossEntropy(Tensor logits, Tensor targets, long ignoreIndex, Tensor loss, Tensor lse) {
        try (OpProfile.Op profiled = OpProfile.op(KernelOps.CROSS_ENTROPY)) {
            if (!scalar && FastCrossEntropy.forward(logits, targets, ignoreIndex, loss, lse, pool(), threads())) {
                return;
            }
            CrossEntropy.forward(logits, targets, ignoreIndex, loss, lse);
        }
    }

    @Override
    public void crossEntropyBackward(Tensor logits, Tensor targets, long ignoreIndex, Tensor lse, Tensor gradLoss, Tensor gradLogits) {
        try (OpProfile.Op profiled = OpProfile.op(KernelOps.CROSS_ENTROPY_BACKWARD)) {
            if (!scalar && FastCrossEntropy.backward(logits, targets, ignoreIndex, lse, gradLoss, gradLogits, pool(), threads())) {
                return;
            }
            CrossEntropy.backward(logits, targets, ignoreIndex, lse, gradLoss, gradLogits);
        }
    }

    @Override
    public void dropout(Tensor x, double p, long seed, Tensor out, Tensor mask) {
        try (OpProfile.Op profiled = OpProfile.op(KernelOps.DROPOUT)) {
            if (!scalar && Dropout.dropoutF32(x, p, seed, out, mask, pool(), threads())) {
                return;
            }
            Dropout.dropout(x, p, seed, out, mask);
        }
    }

    @Override
    public void attention(Tensor q, Tensor k, Tensor v, Tensor keyMask, boolean causal, double scale, Tensor out, Tensor lse) {
        try (OpProfile.Op profiled = OpProfile.op(KernelOps.ATTENTION, KernelOps.attentionFlops(q, k, causal))) {
            if (scalar) {
                Attention.forwardReference(q, k, v, keyMask, causal, scale, out, lse);
                return;
            }
            gemm();
            Attention.forward(q, k, v, keyMask, causal, scale, out, lse, pool, threads());
        }
    }

    @Override
    public void attentionBackward(Tensor q, Tensor k, Tensor v, Tensor keyMask, boolean causal, double scale, Tensor out, Tensor lse,
                                  Tensor gradOut, Tensor gradQ, Tensor gradK, Tensor gradV) {
        try (OpProfile.Op profiled = OpProfile.op(KernelOps.ATTENTION_BACKWARD, KernelOps.attentionBackwardFlops(q, k, causal))) {
            if (scalar) {
                Attention.backwardReference(q, k, v, keyMask, causal, scale, out, lse, gradOut, gradQ, gradK, gradV);
                return;
            }
            gemm();
            Attention.backward(q, k, v, keyMask, causal, scale, out, lse, gradOut, gradQ, gradK, gradV, pool, threads());
        }
    }

    private static int threads() {
        return Runtime.getRuntime().availableProcessors();
    }

    @Override
    public double measurePeakGflops() {
        gemm();
        return FmaPeak.measure(pool, Runtime.getRuntime().availableProcessors()).gflops();
    }

    /** The pool the GEMM and the row-parallel kernels share. */
    private synchronized ExecutorService pool() {
        gemm();
        return pool;
    }

    /** The GEMM and its fixed pool, created on first use: boot and listing need no threads. */
    private synchronized Gemm gemm() {
        if (gemm == null) {
            int threads = Runtime.getRuntime().availableProcessors();
            AtomicInteger n = new AtomicInteger();
            pool = Executors.newFixedThreadPool(threads, r -> {
                Thread t = new Thread(r, "attune-jvm-" + n.incrementAndGet());
                t.setDaemon(true);
                return t;
            });
            gemm = new Gemm(pool, threads, scalar);
        }
        return gemm;
    }

    @Deactivate
    @Override
    public synchronized void shutdown() {
        ropeTables.clear();
        if (pool != null) {
            pool.shutdownNow();
            pool = null;
            gemm = null;
        }
    }

    private static void requireContiguous(Tensor t, String op) {
        if (!t.isContiguous()) {
            throw new IllegalArgumentException(op + ": tensor " + t + " must be contiguous");
        }
    }
}
