package ai.attune.kernels.torch;

import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Tensor;
import org.bytedeco.pytorch.Dispatcher;
import org.bytedeco.pytorch.IValue;
import org.bytedeco.pytorch.IValueVector;
import org.bytedeco.pytorch.global.torch;

import static ai.attune.kernels.torch.Aten.scalar;
import static ai.attune.kernels.torch.Aten.view;

/**
 * Attention on ATen's fused CPU kernels ({@code aten::_scaled_dot_product_flash_attention_for_cpu}
 * and its backward, what {@code F.scaled_dot_product_attention} runs on CPU): tiled online
 * softmax that never materialises the scores, GQA read in place, and the log-sum-exp (f32) that
 * the backward takes. The ops are private ATen API, which the JavaCPP presets do not map, so
 * they are reached through the dispatcher with boxed calls, by their schemas:
 * {@code (q, k, v, dropout_p, is_causal, *, attn_mask, scale) -> (out, logsumexp)} and
 * {@code (dO, q, k, v, out, logsumexp, dropout_p, is_causal, *, attn_mask, scale) -> (dq, dk, dv)}.
 *
 * <p>Where the kernels differ from the contract it is patched here: their causal mask is aligned
 * top-left, so for s != t the causal rule goes in as a mask; they take no bool mask, so masks are
 * additive in q's dtype ([b, 1, 1, t] for a key mask alone, [b|1, 1, s, t] with the causal rule);
 * and a row with no visible key comes back with lse 0, which becomes -inf.
 */
final class FlashAttention {
    private static final String OP = "aten::_scaled_dot_product_flash_attention_for_cpu";
    private static final String BACKWARD_OP = "aten::_scaled_dot_product_flash_attention_for_cpu_backward";

    private FlashAttention() {}

    /** Whether the fused kernel takes these inputs: one floating dtype below f64. */
    static boolean accepts(Tensor q, Tensor k, Tensor v) {
        DType t = q.dtype();
        return k.dtype() == t && v.dtype() == t && (t == DType.F32 || t == DType.BF16 || t == DType.F16);
    }

    /**
     * Whether the fused kernel is the faster path: for f32 only. Measured on [4, 6, 512, 64]
     * with TorchThroughputTest: 2-core Zen 4 (AVX-512, AVX512-BF16) whose other core was busy
     * with another benchmark, so libtorch ran on one thread; each run takes the best of four or
     * five interleaved rounds, and the table gives the median over runs (f32 forward six runs,
     * f32 backward three, bf16 forward four, bf16 backward one):
     * <pre>
     *                  forward             backward
     *                  fused  composed     fused  composed
     * f32               57 ms    90 ms     202 ms   279 ms
     * f32 causal        85 ms   100 ms     180 ms   221 ms
     * bf16             477 ms    30 ms     561 ms    79 ms
     * bf16 causal      485 ms    41 ms     526 ms    89 ms
     * </pre>
     * Single runs scatter by up to 3x under that load, but the f32 order held in most runs and the
     * bf16 order in all.
     * The fused bf16 kernel of this build does not reach oneDNN's AVX512-BF16 GEMM, while the
     * composition's GEMMs do; f64 stays on the composition, the exact path gradient checks take.
     * The fused path also never materialises the scores.
     */
    static boolean faster(Tensor q, Tensor k, Tensor v) {
        return q.dtype() == DType.F32 && k.dtype() == DType.F32 && v.dtype() == DType.F32;
    }

    static void forward(Tensor q, Tensor k, Tensor v, Tensor keyMask, boolean causal, double scale, Tensor out, Tensor lse) {
        Attention.Dims dm = Attention.Dims.of(q, k, v, keyMask, out, lse);
        boolean plainCausal = causal && dm.s() == dm.t() && keyMask == null;
        var visible = plainCausal ? null : Attention.visible(keyMask, causal, dm, 0, dm.s()); // [b|1, 1, s, t]
        IValue mask = new IValue();
        if (visible != null) {
            var additive = torch.zeros(new long[] {1}, Aten.options(q.dtype()))
                    .masked_fill(visible.logical_not(), scalar(Double.NEGATIVE_INFINITY)); // [b|1, 1, s, t]
            mask = new IValue(additive);
        }
        IValueVector stack = new IValueVector(new IValue(rowMajor(q)), new IValue(rowMajor(k)), new IValue(rowMajor(v)),
                new IValue(0.0), new IValue(plainCausal), mask, new IValue(scale));
        Dispatcher.singleton().findSchemaOrThrow(OP, "").callBoxed(stack);
        var o = stack.get(0).toTensor(); // [b, hq, s, d]
        var l = stack.get(1).toTensor(); // [b, hq, s] f32
        if (visible != null) {
            var blind = visible.any(-1).logical_not(); // [b|1, 1, s]: queries that see no key
            l = l.masked_fill(blind, scalar(Double.NEGATIVE_INFINITY));
            o = o.masked_fill(blind.unsqueeze(-1), scalar(0));
        }
        view(out).copy_(o);
        view(lse).copy_(l);
    }

    /**
     * The fused backward, {@code (dO, q, k, v, out, lse, dropout_p, is_causal, *, attn_mask, scale) -> (dq, dk, dv)}.
     * lse -inf (a row that saw no key) goes in as 0, the kernel's own convention: its scores there
     * are all -inf, so P = exp(S - 0) = 0 and the row adds nothing.
     */
    static void backward(Tensor q, Tensor k, Tensor v, Tensor keyMask, boolean causal, double scale, Tensor out, Tensor lse,
                         Tensor gradOut, Tensor gradQ, Tensor gradK, Tensor gradV) {
        Attention.Dims dm = Attention.Dims.of(q, k, v, keyMask, out, lse);
        boolean plainCausal = causal && dm.s() == dm.t() && keyMask == null;
        var visible = plainCausal ? null : Attention.visible(keyMask, causal, dm, 0, dm.s());
        IValue mask = new IValue();
        if (visible != null) {
            mask = new IValue(torch.zeros(new long[] {1}, Aten.options(q.dtype())).masked_fill(visible.logical_not(), scalar(Double.NEGATIVE_INFINITY)));
        }
        var l = view(lse);
        IValueVector stack = new IValueVector(new IValue(rowMajor(gradOut)), new IValue(rowMajor(q)), new IValue(rowMajor(k)), new IValue(rowMajor(v)),
                new IValue(rowMajor(out)), new IValue(l.masked_fill(l.isinf(), scalar(0))), new IValue(0.0), new IValue(plainCausal), mask, new IValue(scale));
        Dispatcher.singleton().findSchemaOrThrow(BACKWARD_OP, "").callBoxed(stack);
        view(gradQ).copy_(stack.get(0).toTensor());
        view(gradK).copy_(stack.get(1).toTensor());
        view(gradV).copy_(stack.get(2).toTensor());
    }

    /** The kernel walks head-dim rows with unit stride; any other layout is copied first. */
    private static org.bytedeco.pytorch.Tensor rowMajor(Tensor t) {
        var v = view(t);
        return t.stride(-1) == 1 || t.size(-1) == 1 ? v : v.contiguous();
    }
}
