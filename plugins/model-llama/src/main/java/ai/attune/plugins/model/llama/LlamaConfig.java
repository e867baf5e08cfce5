package ai.attune.plugins.model.llama;

import ai.attune.api.io.SafetensorsReader;
import ai.attune.api.model.ModelConfig;
import ai.attune.api.model.ModelLoadException;
import ai.attune.api.model.Weights;

import java.io.IOException;

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

    static LlamaConfig from(ModelConfig c) throws IOException {
        return from(c, null);
    }

    /**
     * The config; given the checkpoint, its sizes are first checked against it, so a size that
     * does not describe the weights is refused before anything (RoPE table, parameters) is allocated.
     */
    static LlamaConfig from(ModelConfig c, SafetensorsReader weights) throws IOException {
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
        if (headDim <= 0 || headDim % 2 != 0) {
            throw c.error("head_dim " + headDim + " must be positive and even for rotary embeddings");
        }
        long qRows = (long) heads * headDim;
        if (qRows > Integer.MAX_VALUE) {
            throw c.error("num_attention_heads " + heads + " times head_dim " + headDim + " is too large for a tensor dimension");
        }
        String act = c.stringOr("hidden_act", "silu");
        if (!act.equals("silu") && !act.equals("swish")) {
            throw c.error("hidden_act '" + act + "' is not supported by the Llama MLP (expected silu)");
        }
        boolean qwen2 = c.modelType().equals("qwen2");
        boolean attentionBias = c.boolOr("attention_bias", false);
        int intermediate = positive(c, "intermediate_size", c.requireInt("intermediate_size"));
        int layers = positive(c, "num_hidden_layers", c.requireInt("num_hidden_layers"));
        int vocab = positive(c, "vocab_size", c.requireInt("vocab_size"));
        int maxPositions = positive(c, "max_position_embeddings", c.intOr("max_position_embeddings", 2048));
        if (weights != null) {
            checkpoint(c, weights, hidden, vocab, layers, intermediate, qRows, (long) kvHeads * headDim);
        }
        double theta = c.doubleOr("rope_theta", 10000.0);
        if (!(theta > 0) || Double.isInfinite(theta)) {
            throw c.error("key 'rope_theta' must be a positive number, found " + theta);
        }
        double eps = c.doubleOr("rms_norm_eps", 1e-6);
        if (!(eps >= 0) || Double.isInfinite(eps)) {
            throw c.error("key 'rms_norm_eps' must be a finite number >= 0, found " + eps);
        }
        float[] invFreq = RopeScaling.invFreq(c, theta, headDim);
        return new LlamaConfig(hidden, intermediate, layers, heads, kvHeads, headDim, vocab, maxPositions, eps,
                invFreq, qwen2 || attentionBias, attentionBias, c.boolOr("mlp_bias", false), c.boolOr("tie_word_embeddings", false));
    }

    /** The tensors whose shapes the size keys set; every other parameter's shape follows from these. */
    private static void checkpoint(ModelConfig c, SafetensorsReader w, int hidden, int vocab, int layers, int intermediate, long qRows,
                                   long kvRows) throws IOException {
        Weights.expectShape(w, c, "model.embed_tokens.weight", "vocab_size " + vocab + " and hidden_size " + hidden, vocab, hidden);
        for (int i = 0; i < layers; i++) {
            String p = "model.layers." + i + ".";
            String n = "num_hidden_layers " + layers + ", ";
            Weights.expectShape(w, c, p + "self_attn.q_proj.weight", n + "num_attention_heads * head_dim " + qRows + " and hidden_size " + hidden,
                    qRows, hidden);
            Weights.expectShape(w, c, p + "self_attn.k_proj.weight", n + "num_key_value_heads * head_dim " + kvRows + " and hidden_size "
                    + hidden, kvRows, hidden);
            Weights.expectShape(w, c, p + "mlp.gate_proj.weight", n + "intermediate_size " + intermediate + " and hidden_size " + hidden,
                    intermediate, hidden);
        }
    }

    private static int positive(ModelConfig c, String key, int value) throws ModelLoadException {
        if (value <= 0) {
            throw c.error("key '" + key + "' must be a positive integer, found " + value);
        }
        return value;
    }
}
