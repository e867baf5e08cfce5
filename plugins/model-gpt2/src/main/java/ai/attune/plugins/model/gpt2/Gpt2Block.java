package ai.attune.plugins.model.gpt2;

import ai.attune.api.autograd.Ops;
import ai.attune.api.model.KvCache;
import ai.attune.api.model.ModelHooks;
import ai.attune.api.nn.LayerNorm;
import ai.attune.api.nn.Module;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;

import java.util.function.UnaryOperator;

/** {@code GPT2Block}, pre-LN: {@code x + attn(ln_1(x))}, then {@code x + mlp(ln_2(x))}. */
public class Gpt2Block extends Module {
    private final LayerNorm ln1;
    private final Gpt2Attention attn;
    private final LayerNorm ln2;
    private final Gpt2Mlp mlp;

    public Gpt2Block(Gpt2Config c, int layerIdx, Backend be, DType dtype, Scope scope) {
        this.ln1 = register("ln_1", new LayerNorm(be, dtype, scope, c.nEmbd(), c.layerNormEpsilon()));
        this.attn = register("attn", new Gpt2Attention(c, layerIdx, be, dtype, scope));
        this.ln2 = register("ln_2", new LayerNorm(be, dtype, scope, c.nEmbd(), c.layerNormEpsilon()));
        this.mlp = register("mlp", new Gpt2Mlp(c, be, dtype, scope));
    }

    /** x [batch, t, n_embd] to [batch, t, n_embd]; residDropout is applied to each branch before it is added. */
    public Tensor forward(Tensor x, Tensor keyMask, KvCache cache, UnaryOperator<Tensor> residDropout) {
        return forward(x, keyMask, cache, residDropout, null, new ModelHooks(), 0);
    }

    /**
     * As above; prefix: this layer's learned {keys, values} [heads, P, headDim], or null; hooks see
     * each branch's output after its dropout, before the residual add, where AdapterHub's GPT-2 puts
     * its adapters.
     */
    public Tensor forward(Tensor x, Tensor keyMask, KvCache cache, UnaryOperator<Tensor> residDropout, Tensor[] prefix, ModelHooks hooks, int layer) {
        Tensor h = Ops.add(x, hooks.attentionOutput(layer, residDropout.apply(attn.forward(ln1.forward(x), keyMask, cache, prefix))));
        return Ops.add(h, hooks.mlpOutput(layer, residDropout.apply(mlp.forward(ln2.forward(h)))));
    }
}
