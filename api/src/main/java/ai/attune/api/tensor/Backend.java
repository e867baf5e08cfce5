package ai.attune.api.tensor;

import java.lang.foreign.MemorySegment;

/**
 * The primitive kernels of one compute backend: a lean set, not a god interface. Backends are OSGi
 * services ranked by {@code service.ranking} and named by the {@value #PROPERTY} property.
 *
 * <p>Kernels write into caller-provided outputs (PyTorch's {@code out=} style) so the autograd
 * layer controls allocation and in-place updates (optimizer steps, gradient accumulation) need no
 * extra copies. Unless a method says otherwise, outputs are contiguous and inputs may be any
 * strided view of this backend's storage; floating inputs and outputs are f32, f64, bf16 or f16
 * with f32 (or f64 for f64) accumulation. Semantics follow the PyTorch op named on each method.
 */
public interface Backend {
    String PROPERTY = "attune.backend";

    String name();

    Device device();

    // ---- storage ----

    /** A new zero-filled contiguous tensor owned by {@code scope} ({@code torch.zeros}). */
    Tensor zeros(DType dtype, int[] shape, Scope scope);

    /** A new contiguous tensor whose contents are undefined ({@code torch.empty}): for outputs a kernel overwrites whole. */
    default Tensor empty(DType dtype, int[] shape, Scope scope) {
        return zeros(dtype, shape, scope);
    }

    /** Copies {@code src} into {@code dst} of the same shape, casting dtypes and following any strides ({@code dst.copy_(src)}). Float-to-bf16/f16 casts round to nearest even. */
    void copy(Tensor src, Tensor dst);

    /** Fills {@code dst} with a value ({@code fill_}). */
    void fill(Tensor dst, double value);

    /** Copies raw little-endian bytes laid out as {@code dst}'s dtype, row-major, into contiguous {@code dst}. */
    void copyFromBytes(MemorySegment src, Tensor dst);

    /** Copies contiguous {@code src}'s raw bytes out. */
    void copyToBytes(Tensor src, MemorySegment dst);

    // ---- elementwise ----

    /** {@code out = a OP b} with broadcasting; out has the broadcast shape. */
    void binary(BinaryOp op, Tensor a, Tensor b, Tensor out);

    /** {@code out = a OP s}. */
    void scalar(ScalarOp op, Tensor a, double s, Tensor out);

    /** {@code out = f(a)}. */
    void unary(UnaryOp op, Tensor a, Tensor out);

    /** {@code gradIn = gradOut * f'(x)}: the backward of {@link #unary}. */
    void unaryBackward(UnaryOp op, Tensor x, Tensor gradOut, Tensor gradIn);

    /** {@code out = where(cond != 0, a, b)} with broadcasting ({@code torch.where}). */
    void where(Tensor cond, Tensor a, Tensor b, Tensor out);

    // ---- optimizer updates ----

    /**
     * The sum of the squares of every element of {@code t}, each squared and summed in f64 (exact
     * squares of f32, bf16 and f16 values; the sum rounds in f64): gradient clipping's norm. The
     * default composes the elementwise kernels chunk by chunk, in index order; a backend may sum
     * in another fixed order (f64 rounding apart, the same value), as the jvm backend does over
     * its threads.
     */
    default double sumOfSquares(Tensor t) {
        return ai.attune.api.optim.GradClip.composedSumOfSquares(t);
    }

    /**
     * One {@code torch.optim.AdamW} step of one parameter, in place ({@code aten::_fused_adamw_}
     * for a single tensor): with g the gradient (negated under maximize) and the scalars of
     * {@code h},
     *
     * <pre>
     * p = p * (1 - lr * weight_decay)
     * m = lerp(m, g, 1 - beta1)
     * v = v * beta2 + ((1 - beta2) * g) * g
     * v_max = max(v_max, v)                                     # when maxExpAvgSq is given (amsgrad)
     * p = p + (-step_size * m) / (sqrt(v or v_max) / sqrt(1 - beta2^t) + eps)
     * </pre>
     *
     * param, expAvg, expAvgSq and maxExpAvgSq (null without amsgrad) are contiguous tensors of one
     * shape and dtype; grad has that shape and may be any view. Each op rounds to the parameter's
     * dtype, as torch's single-tensor ops do. The default composes the elementwise kernels, one
     * pass over memory per op; for want of a tensor-by-scalar division it multiplies by
     * {@code 1 / sqrt(1 - beta2^t)} and scales {@code m / denom} afterwards, each within an ulp or
     * two of the formula's order. A backend may fuse the update into one pass in that order, as the
     * jvm backend does for f32.
     */
    default void adamwStep(AdamWStep h, Tensor param, Tensor grad, Tensor expAvg, Tensor expAvgSq, Tensor maxExpAvgSq) {
        ComposedAdamW.step(this, h, param, grad, expAvg, expAvgSq, maxExpAvgSq);
    }

    // ---- reductions ----

    /** Reduces {@code a} over {@code dims} into {@code out}, whose shape is {@code a}'s with the reduced dims set to 1 (keepdim). */
    void reduce(ReduceOp op, Tensor a, int[] dims, Tensor out);

    // ---- linear algebra ----

    /**
     * {@code out = op(a) @ op(b)} ({@code torch.matmul} on 2-D or batched inputs): a is [..., m, k]
     * (or [..., k, m] when transA), b is [..., k, n] (or [..., n, k]); batch dims broadcast.
     */
    void matmul(Tensor a, boolean transA, Tensor b, boolean transB, Tensor out);

    /**
     * {@code out = bias + op(a) @ op(b)} ({@code torch.addmm} with a 1-D bias; a linear layer): a is
     * [m, k] (or [k, m] when transA), b [k, n] (or [n, k] when transB), bias [n] added to every row
     * of out [m, n]. The bits are those of {@link #matmul} into out followed by an add of the bias,
     * which this default runs; a backend that adds the bias while it writes the product back
     * saves that pass over out.
     */
    default void addmm(Tensor bias, Tensor a, boolean transA, Tensor b, boolean transB, Tensor out) {
        matmul(a, transA, b, transB, out);
        binary(BinaryOp.ADD, out, bias, out);
    }

    /**
     * {@code out = op(a) @ op(b)} for a 4-bit b: the same result as {@link #matmul} with b's f32
     * {@link Blockwise4Bit#dequantize dequantization}, where a is [m, k] (or [k, m] when transA), b
     * [k, n] (or [n, k] when transB) and out [m, n], f32 or a's dtype. A backend that decodes b
     * while it multiplies (into its packing buffers, say) never holds b dense; this default makes
     * b dense for the call alone.
     */
    default void matmul(Tensor a, boolean transA, Blockwise4Bit b, boolean transB, Tensor out) {
        try (Scope tmp = Scope.detached("4-bit matmul")) {
            matmul(a, transA, b.dequantize(tmp), transB, out);
        }
    }

    // ---- normalisation and softmax (over the last dim) ----

    /** {@code softmax} or {@code log_softmax} over the last dim. */
    void softmax(Tensor x, boolean log, Tensor out);

    /** Backward of {@link #softmax} given its output y. */
    void softmaxBackward(Tensor y, Tensor gradY, boolean log, Tensor gradX);

    /** RMSNorm as in Llama: {@code y = x * rsqrt(mean(x^2) + eps) * w} over the last dim; rstd [rows] is saved for backward. w may be null. */
    void rmsNorm(Tensor x, Tensor weight, double eps, Tensor out, Tensor rstd);

    /** Backward of {@link #rmsNorm}; gradWeight (may be null) is accumulated into. */
    void rmsNormBackward(Tensor x, Tensor weight, Tensor rstd, Tensor gradY, Tensor gradX, Tensor gradWeight);

    /** {@code torch.nn.functional.layer_norm} over the last dim; mean and rstd [rows] are saved. weight and bias may be null. */
    void layerNorm(Tensor x, Tensor weight, Tensor bias, double eps, Tensor out, Tensor mean, Tensor rstd);

    /** Backward of {@link #layerNorm}; gradWeight and gradBias (may be null) are accumulated into. */
    void layerNormBackward(Tensor x, Tensor weight, Tensor mean, Tensor rstd, Tensor gradY, Tensor gradX, Tensor gradWeight, Tensor gradBias);

    // ---- positional ----

    /**
     * Rotary embedding, rotate-half convention (HF Llama): x is [batch, heads, seq, headDim],
     * positions is i64 [batch, seq]; angle(p, i) = p * invFreq[i] computed in f32, for i in
     * [0, headDim/2). {@code inverse} rotates by the negative angle, which is the backward.
     */
    void rope(Tensor x, Tensor positions, float[] invFreq, boolean inverse, Tensor out);

    // ---- indexing ----

    /** {@code out[..., :] = weight[ids[...], :]} ({@code F.embedding}); ids are i64 or i32. */
    void embedding(Tensor weight, Tensor ids, Tensor out);

    /** Scatter-add backward of {@link #embedding}: {@code gradWeight[ids[i]] += gradOut[i]}. */
    void embeddingBackward(Tensor gradOut, Tensor ids, Tensor gradWeight);

    /** {@code torch.index_select(src, dim, ids)}. */
    void indexSelect(Tensor src, int dim, Tensor ids, Tensor out);

    /** {@code gradSrc.index_add_(dim, ids, gradOut)}: the backward of {@link #indexSelect}. */
    void indexAdd(Tensor gradOut, int dim, Tensor ids, Tensor gradSrc);

    // ---- loss ----

    /**
     * Per-row cross-entropy of logits [rows, classes] against i64 targets [rows]; rows whose
     * target equals {@code ignoreIndex} get loss 0. lse [rows] (log-sum-exp) is saved for backward.
     */
    void crossEntropy(Tensor logits, Tensor targets, long ignoreIndex, Tensor loss, Tensor lse);

    /** {@code gradLogits = (softmax(logits) - onehot(target)) * gradLoss[row]}, zero on ignored rows. */
    void crossEntropyBackward(Tensor logits, Tensor targets, long ignoreIndex, Tensor lse, Tensor gradLoss, Tensor gradLogits);

    // ---- randomness ----

    /**
     * Inverted dropout: each element is kept with probability 1-p and scaled by 1/(1-p). The
     * keep-mask (u8) is written to {@code mask} and is a pure function of (seed, element index),
     * so results do not depend on threading.
     */
    void dropout(Tensor x, double p, long seed, Tensor out, Tensor mask);

    // ---- attention ----

    /**
     * Fused scaled-dot-product attention with a tiled online softmax that never materialises the
     * [seq, seq] score matrix. q is [batch, hq, s, d], k and v are [batch, hkv, t, d] with hq a
     * multiple of hkv (GQA: query head h reads kv head h / (hq/hkv)). keyMask, if not null, is
     * [batch, t] with non-zero for keys that may be attended (padding mask). Causal masking aligns
     * the last query with the last key (query i sees keys j <= i + t - s), as PyTorch does for
     * is_causal with s == t. out is [batch, hq, s, d]; lse [batch, hq, s] is saved for backward.
     * A query row with no visible key yields zeros.
     */
    void attention(Tensor q, Tensor k, Tensor v, Tensor keyMask, boolean causal, double scale, Tensor out, Tensor lse);

    /** Backward of {@link #attention}, recomputing the probabilities tile by tile from lse. */
    void attentionBackward(Tensor q, Tensor k, Tensor v, Tensor keyMask, boolean causal, double scale,
                           Tensor out, Tensor lse, Tensor gradOut, Tensor gradQ, Tensor gradK, Tensor gradV);

    /**
     * The device's f32 fused-multiply-add peak in GFLOP/s, measured now on all the threads the
     * backend uses, for benchmarks to report achieved/peak; NaN when the backend cannot tell.
     */
    default double measurePeakGflops() {
        return Double.NaN;
    }

    /**
     * The dtype that mixed precision should compute products in when a recipe names none, as
     * {@code torch.get_autocast_cpu_dtype()} names autocast's: {@link DType#BF16} where this
     * backend multiplies bf16 natively on this CPU (AVX512-BF16 or AMX), {@link DType#F32} (no
     * mixed precision) where bf16 would only add casts.
     */
    default DType preferredAutocastDType() {
        return DType.F32;
    }

    /**
     * Why this backend cannot run here (its native library failed to load on this OS or CPU, say),
     * or null when it can. A backend that cannot run stays registered so that the reason can be
     * shown; callers choosing a backend automatically skip it.
     */
    default String unavailableReason() {
        return null;
    }

    /** Releases thread pools and caches the backend holds. */
    default void shutdown() {}
}
