package ai.attune.plugins.model.bert;

import ai.attune.api.autograd.F;
import ai.attune.api.autograd.Views;
import ai.attune.api.nn.Linear;
import ai.attune.api.nn.Module;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;

/**
 * transformers' {@code BertSelfAttention} (the "eager"/"sdpa" path, absolute positions):
 * bidirectional scaled dot-product attention over the keys the attention mask keeps.
 * {@code attention_probs_dropout_prob} is not applied in training: the fused attention kernel never
 * materialises the probabilities. Hidden dropout (after the embeddings and each residual branch) is.
 */
final class BertSelfAttention extends Module {
    private final Linear query;
    private final Linear key;
    private final Linear value;
    private final int heads;
    private final int headDim;

    BertSelfAttention(BertConfig c, Backend be, DType dtype, Scope scope) {
        int h = c.hiddenSize();
        this.query = register("query", new Linear(be, dtype, scope, h, h, true));
        this.key = register("key", new Linear(be, dtype, scope, h, h, true));
        this.value = register("value", new Linear(be, dtype, scope, h, h, true));
        this.heads = c.numAttentionHeads();
        this.headDim = c.headDim();
    }

    /** x [batch, t, hidden], keyMask [batch, t] (non-zero = real token, may be null) to the context [batch, t, hidden]. */
    Tensor forward(Tensor x, Tensor keyMask) {
        int batch = x.size(0);
        int t = x.size(1);
        Tensor q = splitHeads(query.forward(x), batch, t); // [batch, heads, t, headDim]
        Tensor k = splitHeads(key.forward(x), batch, t);
        Tensor v = splitHeads(value.forward(x), batch, t);
        // HF adds finfo.min to masked scores, the kernel skips those keys: the same softmax unless
        // a row has no key at all (HF then averages every value, the kernel gives zeros).
        Tensor context = F.attention(q, k, v, keyMask, false, Double.NaN); // [batch, heads, t, headDim], scale 1/sqrt(headDim)
        return Views.reshape(Views.permute(context, 0, 2, 1, 3), batch, t, heads * headDim); // [batch, t, hidden]
    }

    /** [batch, t, hidden] to a [batch, heads, t, headDim] view, no copy. */
    private Tensor splitHeads(Tensor y, int batch, int t) {
        return Views.permute(Views.reshape(y, batch, t, heads, headDim), 0, 2, 1, 3);
    }
}
