package ai.attune.plugins.model.llama;

import ai.attune.api.model.CausalLM;
import ai.attune.api.model.KvCache;
import ai.attune.api.model.ModelHooks;
import ai.attune.api.nn.Embedding;
import ai.attune.api.nn.Linear;
import ai.attune.api.nn.Module;
import ai.attune.api.nn.ModuleList;
import ai.attune.api.nn.RMSNorm;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;

/**
 * {@code LlamaForCausalLM}: {@code model.embed_tokens}, {@code model.layers.N}, {@code model.norm}
 * and {@code lm_head} (the embedding itself when {@code tie_word_embeddings}).
 */
final class LlamaForCausalLM extends Module implements CausalLM {
    private final LlamaConfig cfg;
    private final Backend backend;
    private final DType dtype;
    private final Embedding embedTokens;
    private final ModuleList<LlamaDecoderLayer> layers;
    private final RMSNorm norm;
    private final Linear lmHead;
    private final ModelHooks hooks;

    LlamaForCausalLM(LlamaConfig cfg, Backend be, DType dtype, Scope scope) {
        this.cfg = cfg;
        this.backend = be;
        this.dtype = dtype;
        Module model = register("model", new Module() { });
        this.embedTokens = model.addChild("embed_tokens", new Embedding(be, dtype, scope, cfg.vocabSize(), cfg.hiddenSize()));
        this.layers = model.addChild("layers", new ModuleList<>());
        for (int i = 0; i < cfg.numLayers(); i++) {
            layers.add(new LlamaDecoderLayer(cfg, be, dtype, scope));
        }
        this.hooks = new ModelHooks(new ModelHooks.Dims(cfg.numLayers(), cfg.hiddenSize(), cfg.numHeads(), cfg.numKvHeads(), cfg.headDim()),
                layers.items());
        this.norm = model.addChild("norm", new RMSNorm(be, dtype, scope, cfg.hiddenSize(), cfg.rmsNormEps()));
        this.lmHead = register("lm_head", cfg.tieWordEmbeddings()
                ? new Linear(embedTokens.weight(), null)
                : new Linear(be, dtype, scope, cfg.hiddenSize(), cfg.vocabSize(), false));
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
        return embedTokens;
    }

    @Override
    public int vocabSize() {
        return cfg.vocabSize();
    }

    @Override
    public int maxPositions() {
        return cfg.maxPositions();
    }

    @Override
    public Tensor forward(Tensor ids, Tensor keyMask, KvCache cache) {
        return lmHead.forward(hiddenStates(ids, keyMask, cache)); // [b, t, vocab]
    }

    @Override
    public Linear outputHead() {
        return lmHead;
    }

    @Override
    public Tensor hiddenStates(Tensor ids, Tensor keyMask, KvCache cache) {
        int b = ids.size(0);
        int past = cache == null ? 0 : cache.length();
        int prefix = past == 0 ? hooks.prefixLength() : 0; // prefix slots not yet in the cache
        Tensor h = embedTokens.forward(ids); // [b, t, hidden]
        if (past == 0 && hooks.virtualTokenCount() > 0) {
            keyMask = ModelHooks.extendMask(keyMask, hooks.virtualTokenCount());
            h = hooks.prependVirtualTokens(h); // [b, P + t, hidden]: positions 0..P+t-1
        }
        int t = h.size(1);
        Tensor positions = positions(b, t, past + prefix); // [b, t]; after a prefix, real tokens start at P
        keyMask = ModelHooks.extendMask(keyMask, prefix);
        for (int i = 0; i < layers.size(); i++) {
            int layer = i;
            Tensor[] kv = prefix > 0 ? hooks.kvPrefix().keysValues(i) : null;
            Tensor mask = keyMask;
            h = hooks.runBlock(i, h, x -> layers.get(layer).forward(x, positions, mask, cache, layer, kv, hooks));
        }
        if (cache != null) {
            cache.advance(prefix + t);
        }
        return norm.forward(h); // [b, t, hidden]
    }

    private Tensor positions(int b, int t, int past) {
        long[] p = new long[b * t];
        for (int i = 0; i < b; i++) {
            for (int j = 0; j < t; j++) {
                p[i * t + j] = past + j;
            }
        }
        return Tensors.ofLongs(backend, p, b, t);
    }

    @Override
    public KvCache newCache(int batch, int capacity, Scope scope) {
        // positions the hooks add to a sequence: virtual tokens and a key/value prefix
        int extra = hooks.virtualTokenCount() + hooks.prefixLength();
        return new KvCache(backend, dtype, scope, cfg.numLayers(), batch, cfg.numKvHeads(), capacity + extra, cfg.headDim());
    }
}
