package ai.attune.plugins.model.bert;

import ai.attune.api.autograd.GradMode;
import ai.attune.api.autograd.Ops;
import ai.attune.api.autograd.Views;
import ai.attune.api.model.ModelHooks;
import ai.attune.api.model.SentenceEncoder;
import ai.attune.api.nn.Module;
import ai.attune.api.nn.ModuleList;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.ScalarOp;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;

import java.util.function.UnaryOperator;

/**
 * transformers' {@code BertModel} without its pooler (Devlin et al. 2019), used as
 * sentence-transformers uses it (Reimers and Gurevych 2019): token states, mean pooling over the
 * attention mask, L2 normalisation. Parameter names are HF's, unprefixed:
 * {@code embeddings.word_embeddings.weight}, {@code encoder.layer.3.attention.self.query.bias}, ...
 */
public final class BertModel extends Module implements SentenceEncoder {
    /** sentence-transformers' floor on the token count, so an all-padding row divides by 1e-9, not 0. */
    private static final double MIN_TOKENS = 1e-9;
    /** {@code F.normalize}'s eps. */
    private static final double MIN_NORM = 1e-12;

    private final BertEmbeddings embeddings;
    private final ModuleList<BertLayer> layers = new ModuleList<>();
    private final int hiddenSize;
    private final ModelHooks hooks;

    private SentencePooling pooling = SentencePooling.DEFAULT;

    BertModel(BertConfig c, Backend be, DType dtype, Scope scope) {
        this.embeddings = register("embeddings", new BertEmbeddings(c, be, dtype, scope));
        register("encoder", new Encoder()).addChild("layer", layers);
        for (int i = 0; i < c.numHiddenLayers(); i++) {
            layers.add(new BertLayer(c, be, dtype, scope));
        }
        this.hiddenSize = c.hiddenSize();
        // An encoder consults the sublayer outputs; virtual tokens and key/value prefixes are causal-LM hooks.
        this.hooks = new ModelHooks(new ModelHooks.Dims(c.numHiddenLayers(), c.hiddenSize(), c.numAttentionHeads(), c.numAttentionHeads(),
                c.hiddenSize() / c.numAttentionHeads()), layers.items()) {
            @Override
            public void setVirtualTokens(VirtualTokens v) {
                throw new UnsupportedOperationException("BertModel has no input-embedding hook (prompt tuning)");
            }

            @Override
            public void setKvPrefix(KvPrefix p) {
                throw new UnsupportedOperationException("BertModel has no attention key/value hook (prefix tuning)");
            }
        };
    }

    @Override
    public ModelHooks hooks() {
        return hooks;
    }

    /** {@code BertEncoder}: only a container, so the layers' paths read {@code encoder.layer.N}. */
    static final class Encoder extends Module {
    }

    @Override
    public Module module() {
        return this;
    }

    @Override
    public int dimension() {
        return hiddenSize;
    }

    /**
     * {@code last_hidden_state} [batch, t, hidden] for ids [batch, t] (i64), attention mask
     * [batch, t] (1 = token, 0 = padding; null = no padding) and token types (null = all 0).
     */
    public Tensor forward(Tensor ids, Tensor attentionMask, Tensor tokenTypeIds) {
        Tensor x = embeddings.forward(ids, tokenTypeIds); // [batch, t, hidden]
        boolean recording = GradMode.isEnabled();
        for (int i = 0; i < layers.size(); i++) {
            int layer = i;
            UnaryOperator<Tensor> block = in -> layers.get(layer).forward(in, attentionMask, hooks, layer);
            x = hooks.runBlock(i, x, recording ? block : in -> withOwnTemporaries(block, in));
        }
        return x;
    }

    /**
     * A block run without recording, its temporaries in a scope of their own that closes before
     * the next block: they go back to the pool at once and the next block reuses the same blocks,
     * as PyTorch's allocator reuses freed memory. Otherwise one batch holds every layer's
     * activations until its scope closes (2 GiB for 32 x 140 tokens of a 6-layer, 384-wide
     * encoder), and each tensor is written to memory no cache has seen, mapped afresh when the pool
     * misses.
     */
    private static Tensor withOwnTemporaries(UnaryOperator<Tensor> block, Tensor x) {
        Tensor out = x.backend().empty(x.dtype(), x.shape(), Scope.current()); // [batch, t, hidden]
        try (Scope temporaries = Scope.open("bert-block")) {
            x.backend().copy(block.apply(x), out);
        }
        return out;
    }

    /** Mean of the token states where the mask is 1, then L2-normalised: [batch, hidden]. */
    @Override
    public Tensor embed(Tensor ids, Tensor attentionMask, Tensor tokenTypeIds) {
        Tensor hidden = forward(ids, attentionMask, tokenTypeIds); // [batch, t, hidden]
        Tensor pooled = switch (pooling.mode()) {
            case CLS -> Views.reshape(Views.contiguous(Views.slice(hidden, 1, 0, 1)), hidden.size(0), hidden.size(2)); // [batch, hidden]
            case MAX -> maxPool(hidden, attentionMask);
            case MEAN -> meanPool(hidden, attentionMask);
        };
        if (!pooling.normalize()) {
            return pooled;
        }
        Tensor norm = Ops.sqrt(Ops.sum(Ops.mul(pooled, pooled), new int[] {1}, true)); // [batch, 1]
        return Ops.div(pooled, Ops.scalar(ScalarOp.MAXIMUM, norm, MIN_NORM));
    }

    private static Tensor meanPool(Tensor hidden, Tensor attentionMask) {
        if (attentionMask == null) {
            return Ops.mean(hidden, new int[] {1}, false); // [batch, hidden]
        }
        Tensor m = Views.unsqueeze(Ops.to(attentionMask, hidden.dtype()), -1); // [batch, t, 1]
        Tensor summed = Ops.sum(Ops.mul(hidden, m), new int[] {1}, false);     // [batch, hidden]
        Tensor count = Ops.scalar(ScalarOp.MAXIMUM, Ops.sum(m, new int[] {1}, false), MIN_TOKENS); // [batch, 1]
        return Ops.div(summed, count);
    }

    /** Max over real tokens: padding is pushed to -1e9 first, as sentence-transformers does. */
    private static Tensor maxPool(Tensor hidden, Tensor attentionMask) {
        if (attentionMask == null) {
            return Ops.amax(hidden, new int[] {1}, false);
        }
        Tensor m = Views.unsqueeze(Ops.to(attentionMask, hidden.dtype()), -1); // [batch, t, 1]
        Tensor masked = Ops.add(Ops.mul(hidden, m), Ops.mulScalar(Ops.addScalar(m, -1.0), 1e9));
        return Ops.amax(masked, new int[] {1}, false);
    }

    /** The pooling the model's directory declares (mean with normalisation by default). */
    void setPooling(SentencePooling pooling) {
        this.pooling = pooling;
    }
}
