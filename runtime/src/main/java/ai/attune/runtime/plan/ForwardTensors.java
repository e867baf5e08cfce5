package ai.attune.runtime.plan;

import ai.attune.runtime.plan.Kept.Role;
import ai.attune.runtime.plan.Kept.Type;
import ai.attune.runtime.plan.ModelShape.Linear;
import ai.attune.runtime.plan.TrainingSetup.Method;

import java.util.ArrayList;
import java.util.List;

/**
 * The tensors one micro-batch's forward allocates in the Llama family, counted from the code that
 * allocates them (model-llama's decoder layer, api's F, Ops, Views and Autocast, the LoRA and
 * adapter plugins). Each stays alive until backward has run its producer (autograd's release
 * rule) or, off the tape, until the micro-batch's scope closes; so at the turn from forward to
 * backward all of them are alive at once.
 *
 * <p>{@code tokens} is rows x positions of one micro-batch. Views (reshape of a contiguous tensor,
 * transpose, permute) share storage and are not counted; a reshape of a transposed tensor copies.
 */
final class ForwardTensors {
    private ForwardTensors() {}

    /** Decoder layer {@code i}: what its backward needs, which is everything it computed. */
    static List<Kept> layer(ModelShape m, TrainingSetup t, int i) {
        long n = (long) t.microBatch() * t.positions();
        List<Linear> lin = m.layerLinears(i);
        List<Kept> out = new ArrayList<>();
        out.add(new Kept("input_layernorm", n * m.hidden(), Type.F32)); // F.rmsNorm widens, so its output is f32
        out.add(new Kept("input_layernorm rstd", n, Type.F32, Role.SCOPED));
        for (Linear l : lin.subList(0, 3)) {
            linear(out, l, n, t);
        }
        out.add(new Kept("rotary q", n * m.qWidth(), Type.PRODUCT));
        out.add(new Kept("rotary k", n * m.kvWidth(), Type.PRODUCT));
        if (t.method() == Method.prefix_tuning) {
            long p = t.virtualTokens();
            long rows = t.microBatch();
            // ModelHooks.batched repeats the learned [kv, P, d] per row, Views.concat puts it before k and v (in the prefix's f32)
            out.add(new Kept("prefix keys and values, per row", 2 * rows * p * m.kvWidth(), Type.F32));
            out.add(new Kept("keys and values after the prefix", 2 * rows * (p + t.seqLen()) * m.kvWidth(), Type.F32));
            out.add(new Kept("keys and values cast for attention", 2 * rows * (p + t.seqLen()) * m.kvWidth(), Type.CAST));
        }
        out.add(new Kept("attention output", n * m.qWidth(), Type.PRODUCT)); // one fused kernel: its tiles are heap arrays
        out.add(new Kept("attention logsumexp", n * m.heads(), Type.F32, Role.SCOPED)); // saved by F.attention for its backward, always f32
        out.add(new Kept("heads merged", n * m.qWidth(), Type.PRODUCT)); // reshape of the transposed output copies
        linear(out, lin.get(3), n, t);
        adapter(out, m, t, n, "attention");
        out.add(new Kept("attention residual", n * m.hidden(), Type.F32)); // f32 stream + product promotes to f32
        out.add(new Kept("post_attention_layernorm", n * m.hidden(), Type.F32));
        out.add(new Kept("post_attention_layernorm rstd", n, Type.F32, Role.SCOPED));
        linear(out, lin.get(4), n, t);
        linear(out, lin.get(5), n, t);
        out.add(new Kept("silu(gate)", n * m.intermediate(), Type.PRODUCT));
        out.add(new Kept("silu(gate) * up", n * m.intermediate(), Type.PRODUCT));
        linear(out, lin.get(6), n, t);
        adapter(out, m, t, n, "mlp");
        out.add(new Kept("mlp residual", n * m.hidden(), Type.F32));
        return out;
    }

    /**
     * A linear layer, in F.linear's order: autocast's casts of an f32 input and of the weight, the
     * product (through an f32 accumulator under autocast), the bias sum, then a LoRA path on it.
     */
    private static void linear(List<Kept> out, Linear l, long n, TrainingSetup t) {
        String name = l.path().substring(l.path().lastIndexOf('.') + 1);
        if (!l.productInput()) {
            out.add(new Kept(name + " input cast", n * l.in(), Type.CAST));
        }
        if (t.method() != Method.qlora || l.path().equals("lm_head")) { // a quantized weight is dequantized inside its product
            out.add(new Kept(name + " weight cast", (long) l.in() * l.out(), Type.CAST, Role.WEIGHT_CAST));
        }
        product(out, name, n * l.out());
        if (l.bias()) {
            out.add(new Kept(name + " bias cast", l.out(), Type.CAST, Role.WEIGHT_CAST));
            out.add(new Kept(name + " + bias", n * l.out(), Type.PRODUCT));
        }
        if (t.lora() != null && t.lora().targets(l)) {
            lora(out, name, l, n, t);
        }
    }

    /** A matrix product's output; the jvm GEMM accumulates in f32, so a low-precision output has an f32 twin while it runs. */
    private static void product(List<Kept> out, String name, long elements) {
        out.add(new Kept(name, elements, Type.PRODUCT));
        out.add(new Kept(name + " accumulator", elements, Type.ACCUMULATOR, Role.TRANSIENT));
    }

    /** LoraLayer.adapt: to(x, f32), dropout, lora_A, lora_B, the scaling and the sum with the base output. */
    private static void lora(List<Kept> out, String name, Linear l, long n, TrainingSetup t) {
        long r = t.lora().r();
        if (l.productInput()) {
            out.add(new Kept(name + " lora input in f32", n * l.in(), Type.WIDEN)); // the adapter's dtype is f32
        }
        if (t.lora().dropout() > 0) {
            out.add(new Kept(name + " lora dropout", n * l.in(), Type.F32));
            out.add(new Kept(name + " lora dropout mask", n * l.in(), Type.U8, Role.SCOPED));
        }
        out.add(new Kept(name + " lora input cast", n * l.in(), Type.CAST));
        out.add(new Kept(name + " lora_A cast", r * l.in(), Type.CAST, Role.WEIGHT_CAST));
        product(out, name + " lora_A", n * r);
        if (t.lora().scaling() != 1) {
            out.add(new Kept(name + " lora scaling", n * r, Type.PRODUCT)); // h [n, r] is scaled, not B·h
        }
        out.add(new Kept(name + " lora_B cast", l.out() * r, Type.CAST, Role.WEIGHT_CAST));
        product(out, name + " lora_B", n * l.out());
        out.add(new Kept(name + " lora sum", n * l.out(), Type.PRODUCT));
    }

    /** A Houlsby bottleneck after a sublayer (adapter plugin): down + bias, activation, up + bias, residual. */
    private static void adapter(List<Kept> out, ModelShape m, TrainingSetup t, long n, String where) {
        if (t.method() != Method.adapter) {
            return;
        }
        int r = Math.max(1, m.hidden() / t.adapterReduction());
        linear(out, new Linear(where + ".adapter_down", m.hidden(), r, true, true), n, t);
        out.add(new Kept(where + " adapter activation", n * r, Type.PRODUCT));
        linear(out, new Linear(where + ".adapter_up", r, m.hidden(), true, true), n, t);
        out.add(new Kept(where + " adapter residual", n * m.hidden(), Type.PRODUCT));
    }

    /** Before the first layer: the micro-batch's inputs and the embedding (and prompt tuning's virtual tokens). */
    static List<Kept> embedding(ModelShape m, TrainingSetup t) {
        long rows = t.microBatch();
        long n = rows * t.positions();
        List<Kept> out = new ArrayList<>();
        out.add(new Kept("token ids", rows * t.seqLen(), Type.I64, Role.SCOPED));
        out.add(new Kept("attention mask", rows * t.seqLen(), Type.I64, Role.SCOPED));
        out.add(new Kept("positions", n, Type.I64, Role.SCOPED));
        out.add(new Kept("targets", n, Type.I64, Role.SCOPED));
        out.add(new Kept("embeddings", rows * t.seqLen() * m.hidden(), Type.F32));
        if (t.method() == Method.prompt_tuning) {
            out.add(new Kept("virtual tokens, per row", rows * t.virtualTokens() * m.hidden(), Type.F32));
            out.add(new Kept("virtual tokens + embeddings", n * m.hidden(), Type.F32));
        }
        return out;
    }

    /**
     * Whether training's loss runs the head fused with cross-entropy (F.linearCrossEntropy): an f32
     * run whose head is a frozen plain product, without an adapter or a bias.
     */
    static boolean fusedHead(ModelShape m, TrainingSetup t) {
        return !t.precision().autocast() && t.method().frozenBase() && !m.head().bias() && !(t.lora() != null && t.lora().targets(m.head()));
    }

    /**
     * After the last layer: the final norm, the head's logits and cross-entropy's forward; fused,
     * no logits are kept, but the gradient of the head's input, which the forward already computed,
     * waits for backward.
     */
    static List<Kept> head(ModelShape m, TrainingSetup t) {
        long n = (long) t.microBatch() * t.positions();
        List<Kept> out = new ArrayList<>();
        out.add(new Kept("norm", n * m.hidden(), Type.F32));
        out.add(new Kept("norm rstd", n, Type.F32, Role.SCOPED));
        if (fusedHead(m, t)) {
            out.add(new Kept("token losses", n, Type.F32));
            out.add(new Kept("head input gradient, computed in forward", n * m.hidden(), Type.F32));
            return out;
        }
        linear(out, m.head(), n, t);
        out.add(new Kept("logits in f32", n * m.vocab(), Type.WIDEN)); // cross-entropy widens autocast's logits
        out.add(new Kept("token losses", n, Type.F32));
        out.add(new Kept("logsumexp", n, Type.F32, Role.SCOPED));
        return out;
    }
}
