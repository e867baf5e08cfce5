package ai.attune.plugins.model.gpt2;

import ai.attune.api.autograd.Ops;
import ai.attune.api.autograd.Views;
import ai.attune.api.model.KvCache;
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
        int t = ids.size(1);
        int past = cache == null ? 0 : cache.length();
        // Consecutive positions are a slice of the table: no gather, and the gradient still reaches wpe.
        Tensor positions = Views.slice(wpe.weight().value(), 0, past, past + t); // [t, n_embd]
        Tensor x = dropout.apply(Ops.add(wte.forward(ids), positions)); // [batch, t, n_embd]
        for (Gpt2Block block : h.items()) {
            x = block.forward(x, keyMask, cache, dropout);
        }
        if (cache != null) {
            cache.advance(t);
        }
        return lnF.forward(x);
    }
}
