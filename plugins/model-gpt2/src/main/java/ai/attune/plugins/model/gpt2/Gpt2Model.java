package ai.attune.plugins.model.gpt2;

import ai.attune.api.autograd.Ops;
import ai.attune.api.autograd.Views;
import ai.attune.api.model.KvCache;
import ai.attune.api.model.ModelHooks;
import ai.attune.api.nn.Embedding;
import ai.attune.api.nn.LayerNorm;
import ai.attune.api.nn.Module;
import ai.attune.api.nn.ModuleList;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;

import java.util.function.UnaryOperator;

/** {@code GPT2Model}, the {@code transformer} of GPT2LMHeadModel: token and learned position embeddings, blocks, ln_f. */
public class Gpt2Model extends Module {
    private final Embedding wte;
    private final Embedding wpe;
    private final ModuleList<Gpt2Block> h;
    private final LayerNorm lnF;

    public Gpt2Model(Gpt2Config c, Backend be, DType dtype, Scope scope) {
        this.wte = register("wte", new Embedding(be, dtype, scope, c.vocabSize(), c.nEmbd()));
        this.wpe = register("wpe", new Embedding(be, dtype, scope, c.nPositions(), c.nEmbd()));
        this.h = register("h", new ModuleList<>());
        for (int i = 0; i < c.nLayer(); i++) {
            h.add(new Gpt2Block(c, i, be, dtype, scope));
        }
        this.lnF = register("ln_f", new LayerNorm(be, dtype, scope, c.nEmbd(), c.layerNormEpsilon()));
    }

    public Embedding wte() {
        return wte;
    }

    public Embedding wpe() {
        return wpe;
    }

    public ModuleList<Gpt2Block> h() {
        return h;
    }

    /**
     * Final hidden states [batch, t, n_embd] for ids [batch, t]. Positions are
     * {@code past .. past + t - 1}, past being the cache's length (0 without one), as transformers'
     * cache_position; they do not skip padding.
     */
    public Tensor forward(Tensor ids, Tensor keyMask, KvCache cache, UnaryOperator<Tensor> dropout) {
        return forward(ids, keyMask, cache, dropout, new ModelHooks());
    }

    /**
     * As above, with a method's hooks: virtual tokens go in front of the token embeddings (positions
     * 0..P+t-1), a key/value prefix in front of every layer's keys and values (positions P..P+t-1).
     */
    public Tensor forward(Tensor ids, Tensor keyMask, KvCache cache, UnaryOperator<Tensor> dropout, ModelHooks hooks) {
        int past = cache == null ? 0 : cache.length();
        int prefix = past == 0 ? hooks.prefixLength() : 0; // prefix slots not yet in the cache
        Tensor e = wte.forward(ids); // [batch, t, n_embd]
        if (past == 0 && hooks.virtualTokenCount() > 0) {
            keyMask = ModelHooks.extendMask(keyMask, hooks.virtualTokenCount());
            e = hooks.prependVirtualTokens(e); // [batch, P + t, n_embd]
        }
        int t = e.size(1);
        int first = past + prefix;
        if (first + t > wpe.weight().value().size(0)) {
            throw new IllegalArgumentException("positions " + first + ".." + (first + t - 1) + " exceed the "
                    + wpe.weight().value().size(0) + " learned positions (n_positions)");
        }
        // Consecutive positions are a slice of the table: no gather, and the gradient still reaches wpe.
        Tensor positions = Views.slice(wpe.weight().value(), 0, first, first + t); // [t, n_embd]
        Tensor x = dropout.apply(Ops.add(e, positions)); // [batch, t, n_embd]
        keyMask = ModelHooks.extendMask(keyMask, prefix);
        int layer = 0;
        Tensor mask = keyMask;
        for (Gpt2Block block : h.items()) {
            int l = layer;
            Tensor[] kv = prefix > 0 ? hooks.kvPrefix().keysValues(layer) : null;
            x = hooks.runBlock(layer, x, in -> block.forward(in, mask, cache, dropout, kv, hooks, l));
            layer++;
        }
        if (cache != null) {
            cache.advance(prefix + t);
        }
        return lnF.forward(x);
    }
}
