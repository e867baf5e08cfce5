package ai.attune.plugins.model.gpt2;

import ai.attune.api.autograd.F;
import ai.attune.api.autograd.Views;
import ai.attune.api.model.KvCache;
import ai.attune.api.model.ModelHooks;
import ai.attune.api.nn.Module;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;

/**
 * {@code GPT2Attention} (self-attention only): one Conv1D {@code c_attn} projects to q, k, v
 * side by side, causal attention per head, then {@code c_proj}.
 *
 * <p>{@code reorder_and_upcast_attn} only changes where transformers upcasts the scores to f32; the
 * fused attention kernel computes scores and softmax in at least f32 whatever the input dtype, so
 * the option needs no separate path here.
 */
public class Gpt2Attention extends Module {
    private final Conv1D cAttn;
    private final Conv1D cProj;
    private final int layerIdx;
    private final int nHead;
    private final int headDim;
    private final double scale;

    public Gpt2Attention(Gpt2Config c, int layerIdx, Backend be, DType dtype, Scope scope) {
        this.cAttn = register("c_attn", new Conv1D(be, dtype, scope, c.nEmbd(), 3 * c.nEmbd()));
        this.cProj = register("c_proj", new Conv1D(be, dtype, scope, c.nEmbd(), c.nEmbd()));
        this.layerIdx = layerIdx;
        this.nHead = c.nHead();
        this.headDim = c.headDim();
        double s = c.scaleAttnWeights() ? 1.0 / Math.sqrt(headDim) : 1.0;
        // Mistral-style GPT-2 (Stanford CRFM) damps deeper layers' scores to keep fp16 training stable.
        this.scale = c.scaleAttnByInverseLayerIdx() ? s / (layerIdx + 1) : s;
    }

    /**
     * x [batch, t, n_embd] to [batch, t, n_embd]. With a cache, this layer's k and v are appended
     * to it and the queries attend to every cached position; keyMask is [batch, cached + t] or null.
     */
    public Tensor forward(Tensor x, Tensor keyMask, KvCache cache) {
        return forward(x, keyMask, cache, null);
    }

    /** As above; prefix: this layer's learned {keys, values} [heads, P, headDim], prepended as stored, or null. */
    public Tensor forward(Tensor x, Tensor keyMask, KvCache cache, Tensor[] prefix) {
        int batch = x.size(0);
        int t = x.size(1);
        Tensor qkv = cAttn.forward(x); // [batch, t, 3 * n_embd]
        // c_attn's output columns are [q | k | v], each split into heads: [batch, t, 3, heads, headDim].
        Tensor heads = Views.permute(Views.reshape(qkv, batch, t, 3, nHead, headDim), 2, 0, 3, 1, 4); // [3, batch, heads, t, headDim]
        Tensor q = part(heads, 0); // [batch, heads, t, headDim]
        Tensor k = part(heads, 1);
        Tensor v = part(heads, 2);
        if (prefix != null) { // learned keys and values, as stored
            k = Views.concat(java.util.List.of(ModelHooks.batched(prefix[0], batch), k), 2); // [batch, heads, P + t, headDim]
            v = Views.concat(java.util.List.of(ModelHooks.batched(prefix[1], batch), v), 2);
        }
        if (cache != null) {
            Tensor[] kv = cache.append(layerIdx, k, v); // [batch, heads, cached + t, headDim]
            k = kv[0];
            v = kv[1];
        }
        Tensor attn = F.attention(q, k, v, keyMask, true, scale); // [batch, heads, t, headDim]
        Tensor merged = Views.reshape(Views.transpose(attn, 1, 2), batch, t, nHead * headDim); // [batch, t, n_embd]
        return cProj.forward(merged);
    }

    /** One of q, k, v from [3, batch, heads, t, headDim]; the reshape makes it contiguous. */
    private Tensor part(Tensor heads, int i) {
        int[] s = heads.shape();
        return Views.reshape(Views.slice(heads, 0, i, i + 1), s[1], s[2], s[3], s[4]);
    }
}
