package ai.attune.plugins.model.llama;

import ai.attune.api.model.ModelConfig;
import ai.attune.api.model.ModelLoadException;

/**
 * The keys of a Llama-architecture {@code config.json} as transformers reads them, with its
 * defaults. Qwen2 differs only in biased q/k/v projections; Mistral not at all for our purposes.
 */
record LlamaConfig(
        int hiddenSize,
        int intermediateSize,
        int numLayers,
        int numHeads,
        int numKvHeads,
        int headDim,
        int vocabSize,
        int maxPositions,
        double rmsNormEps,
        float[] invFreq,
        boolean qkvBias,
        boolean outputBias,
        boolean mlpBias,
        boolean tieWordEmbeddings) {

    static LlamaConfig from(ModelConfig c) throws ModelLoadException {
        int hidden = c.requireInt("hidden_size");
        int heads = c.requireInt("num_attention_heads");
        int kvHeads = c.intOr("num_key_value_heads", heads);
        int headDim = c.intOr("head_dim", heads > 0 ? hidden / heads : 0);
        if (heads <= 0 || hidden <= 0) {
            throw c.error("hidden_size and num_attention_heads must be positive, found " + hidden + " and " + heads);
        }
        if (!c.has("head_dim") && hidden % heads != 0) {
            throw c.error("hidden_size " + hidden + " is not divisible by num_attention_heads " + heads + " and no head_dim is given");
        }
        if (kvHeads <= 0 || heads % kvHeads != 0) {
            throw c.error("num_attention_heads " + heads + " is not a multiple of num_key_value_heads " + kvHeads);
        }
        if (headDim % 2 != 0) {
            throw c.error("head_dim " + headDim + " must be even for rotary embeddings");
        }
        String act = c.stringOr("hidden_act", "silu");
        if (!act.equals("silu") && !act.equals("swish")) {
            throw c.error("hidden_act '" + act + "' is not supported by the Llama MLP (expected silu)");
        }
        boolean qwen2 = c.modelType().equals("qwen2");
        boolean attentionBias = c.boolOr("attention_bias", false);
        int maxPositions = c.intOr("max_position_embeddings", 2048);
        float[] invFreq = RopeScaling.invFreq(c, c.doubleOr("rope_theta", 10000.0), headDim);
        return new LlamaConfig(hidden, c.requireInt("intermediate_size"), c.requireInt("num_hidden_layers"), heads, kvHeads, headDim,
                c.requireInt("vocab_size"), maxPositions, c.doubleOr("rms_norm_eps", 1e-6), invFreq,
                qwen2 || attentionBias, attentionBias, c.boolOr("mlp_bias", false), c.boolOr("tie_word_embeddings", false));
    }
}
