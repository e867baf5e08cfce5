package ai.attune.plugins.model.llama;

import ai.attune.api.autograd.F;
import ai.attune.api.autograd.Views;
import ai.attune.api.model.KvCache;
import ai.attune.api.model.ModelHooks;
import ai.attune.api.nn.Linear;
import ai.attune.api.nn.Module;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;

/** {@code LlamaAttention}: q/k/v projections, rotary embeddings, causal GQA attention, o_proj. */
final class LlamaAttention extends Module {
    private final LlamaConfig cfg;
    private final Linear qProj;
    private final Linear kProj;
    private final Linear vProj;
    private final Linear oProj;

    LlamaAttention(LlamaConfig cfg, Backend be, DType dtype, Scope scope) {
        this.cfg = cfg;
        int h = cfg.hiddenSize();
        this.qProj = register("q_proj", new Linear(be, dtype, scope, h, cfg.numHeads() * cfg.headDim(), cfg.qkvBias()));
        this.kProj = register("k_proj", new Linear(be, dtype, scope, h, cfg.numKvHeads() * cfg.headDim(), cfg.qkvBias()));
        this.vProj = register("v_proj", new Linear(be, dtype, scope, h, cfg.numKvHeads() * cfg.headDim(), cfg.qkvBias()));
        this.oProj = register("o_proj", new Linear(be, dtype, scope, cfg.numHeads() * cfg.headDim(), h, cfg.outputBias()));
    }

    /** x [b, t, hidden], positions i64 [b, t], keyMask [b, past + t] or null, prefix {keys, values} [kv, P, d] or null. */
    Tensor forward(Tensor x, Tensor positions, Tensor keyMask, KvCache cache, int layer, Tensor[] prefix) {
        int b = x.size(0);
        int t = x.size(1);
        int d = cfg.headDim();
        Tensor q = heads(qProj.forward(x), b, t, cfg.numHeads(), d); // [b, hq, t, d]
        Tensor k = heads(kProj.forward(x), b, t, cfg.numKvHeads(), d); // [b, hkv, t, d]
        Tensor v = heads(vProj.forward(x), b, t, cfg.numKvHeads(), d); // [b, hkv, t, d]
        q = F.rope(q, positions, cfg.invFreq());
        k = F.rope(k, positions, cfg.invFreq());
        if (prefix != null) { // learned keys and values, as stored: no projection, no rotary embedding
            k = Views.concat(java.util.List.of(ModelHooks.batched(prefix[0], b), k), 2); // [b, hkv, P + t, d]
            v = Views.concat(java.util.List.of(ModelHooks.batched(prefix[1], b), v), 2);
        }
        if (cache != null) {
            Tensor[] kv = cache.append(layer, k, v); // [b, hkv, past + t, d]
            k = kv[0];
            v = kv[1];
        }
        Tensor o = F.attention(q, k, v, keyMask, true, Double.NaN); // [b, hq, t, d]
        o = Views.reshape(Views.transpose(o, 1, 2), b, t, cfg.numHeads() * d); // [b, t, hq * d]
        return oProj.forward(o);
    }

    /** [b, t, n * d] to a [b, n, t, d] view. */
    private static Tensor heads(Tensor y, int b, int t, int n, int d) {
        return Views.transpose(Views.reshape(y, b, t, n, d), 1, 2);
    }
}
