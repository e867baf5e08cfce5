package ai.attune.plugins.model.gpt2;

import ai.attune.api.model.CausalLM;
import ai.attune.api.model.KvCache;
import ai.attune.api.model.ModelHooks;
import ai.attune.api.nn.Embedding;
import ai.attune.api.nn.Linear;
import ai.attune.api.nn.Module;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Shape;
import ai.attune.api.tensor.Tensor;

import java.util.function.UnaryOperator;

/**
 * {@code GPT2LMHeadModel}: the GPT-2 decoder ({@link Gpt2Model}) and a bias-free head onto the
 * vocabulary. With {@code tie_word_embeddings} (the default) the head is {@code transformer.wte}'s
 * weight and registers no parameter of its own, as {@code named_parameters()} lists a tied weight
 * once; otherwise it is a Linear named {@code lm_head}.
 */
public class Gpt2LMHeadModel extends Module implements CausalLM {
    private final Gpt2Config config;
    private final Gpt2Model transformer;
    private final Linear lmHead;
    private final Linear outputHead; // lmHead, or an unregistered Linear over wte's weight when tied
    private final Backend backend;
    private final DType dtype;
    private final ModelHooks hooks;

    public Gpt2LMHeadModel(Gpt2Config config, Backend be, DType dtype, Scope scope) {
        this.config = config;
        this.transformer = register("transformer", new Gpt2Model(config, be, dtype, scope));
        this.hooks = new ModelHooks(new ModelHooks.Dims(config.nLayer(), config.nEmbd(), config.nHead(), config.nHead(), config.headDim()),
                transformer.h().items());
        this.lmHead = config.tieWordEmbeddings() ? null
                : register("lm_head", new Linear(be, dtype, scope, config.nEmbd(), config.vocabSize(), false));
        this.outputHead = lmHead != null ? lmHead : new Linear(transformer.wte().weight(), null);
        this.backend = be;
        this.dtype = dtype;
    }

    public Gpt2Config config() {
        return config;
    }

    public Gpt2Model transformer() {
        return transformer;
    }

    @Override
    public Module module() {
        return this;
    }

    @Override
    public ModelHooks hooks() {
        return hooks;
    }

    @Override
    public Embedding inputEmbeddings() {
        return transformer.wte();
    }

    @Override
    public int vocabSize() {
        return config.vocabSize();
    }

    @Override
    public int maxPositions() {
        return config.nPositions();
    }

    @Override
    public Tensor forward(Tensor ids, Tensor keyMask, KvCache cache) {
        return outputHead.forward(hiddenStates(ids, keyMask, cache)); // [batch, t, vocab]
    }

    /**
     * The head onto the vocabulary: {@code lm_head}, or with tied embeddings a Linear over
     * {@code transformer.wte}'s weight that is no module of the model (its parameter is listed
     * once, as wte's).
     */
    @Override
    public Linear outputHead() {
        return outputHead;
    }

    @Override
    public Tensor hiddenStates(Tensor ids, Tensor keyMask, KvCache cache) {
        if (ids.rank() != 2) {
            throw new IllegalArgumentException("ids must be [batch, t], got " + Shape.str(ids.shape()));
        }
        // Inference: dropout is the identity. A training loop would hook F.dropout with the
        // config's embd_pdrop / resid_pdrop in here (attn_pdrop would need the fused kernel's help).
        UnaryOperator<Tensor> dropout = UnaryOperator.identity();
        return transformer.forward(ids, keyMask, cache, dropout, hooks); // [batch, t, n_embd]
    }

    @Override
    public KvCache newCache(int batch, int capacity, Scope scope) {
        // positions the hooks add to a sequence: virtual tokens and a key/value prefix
        int extra = hooks.virtualTokenCount() + hooks.prefixLength();
        return new KvCache(backend, dtype, scope, config.nLayer(), batch, config.nHead(), capacity + extra, config.headDim());
    }
}
