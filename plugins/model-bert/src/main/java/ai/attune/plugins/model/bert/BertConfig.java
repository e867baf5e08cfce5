package ai.attune.plugins.model.bert;

import ai.attune.api.model.ModelConfig;
import ai.attune.api.model.ModelLoadException;
import ai.attune.api.nn.Mlp;

/**
 * The keys of transformers' {@code BertConfig} that shape the encoder. The five size keys are
 * required (transformers would fall back to bert-base's sizes, which for a small checkpoint only
 * fails later, at a weight of the wrong shape); the others take transformers' defaults.
 */
record BertConfig(int hiddenSize, int numHiddenLayers, int numAttentionHeads, int intermediateSize, int vocabSize,
                  int maxPositionEmbeddings, int typeVocabSize, double layerNormEps, Mlp.Activation hiddenAct,
                  double hiddenDropoutProb) {

    static BertConfig from(ModelConfig c) throws ModelLoadException {
        BertConfig b = new BertConfig(
                positive(c, "hidden_size", c.requireInt("hidden_size")),
                positive(c, "num_hidden_layers", c.requireInt("num_hidden_layers")),
                positive(c, "num_attention_heads", c.requireInt("num_attention_heads")),
                positive(c, "intermediate_size", c.requireInt("intermediate_size")),
                positive(c, "vocab_size", c.requireInt("vocab_size")),
                positive(c, "max_position_embeddings", c.intOr("max_position_embeddings", 512)),
                positive(c, "type_vocab_size", c.intOr("type_vocab_size", 2)),
                c.doubleOr("layer_norm_eps", 1e-12),
                activation(c),
                c.doubleOr("hidden_dropout_prob", 0.1));
        if (b.hiddenSize % b.numAttentionHeads != 0) {
            throw c.error("hidden_size " + b.hiddenSize + " is not a multiple of num_attention_heads " + b.numAttentionHeads);
        }
        if (!(b.layerNormEps > 0)) {
            throw c.error("key 'layer_norm_eps' must be positive, found " + b.layerNormEps);
        }
        if (c.boolOr("is_decoder", false) || c.boolOr("add_cross_attention", false)) {
            throw c.error("keys 'is_decoder' / 'add_cross_attention' ask for BERT as a decoder; only the encoder is supported");
        }
        String positions = c.stringOr("position_embedding_type", "absolute");
        if (!positions.equals("absolute")) {
            throw c.error("key 'position_embedding_type' is '" + positions + "'; only 'absolute' is supported");
        }
        return b;
    }

    int headDim() {
        return hiddenSize / numAttentionHeads;
    }

    private static int positive(ModelConfig c, String key, int value) throws ModelLoadException {
        if (value <= 0) {
            throw c.error("key '" + key + "' must be positive, found " + value);
        }
        return value;
    }

    /** transformers' ACT2FN names; "gelu" is the exact erf form. */
    private static Mlp.Activation activation(ModelConfig c) throws ModelLoadException {
        String act = c.stringOr("hidden_act", "gelu");
        return switch (act) {
            case "gelu" -> Mlp.Activation.GELU_ERF;
            case "gelu_new", "gelu_pytorch_tanh", "gelu_fast" -> Mlp.Activation.GELU_TANH;
            case "relu" -> Mlp.Activation.RELU;
            case "silu", "swish" -> Mlp.Activation.SILU;
            default -> throw c.error("key 'hidden_act' is '" + act + "'; supported: gelu, gelu_new, gelu_pytorch_tanh, gelu_fast, relu, silu, swish");
        };
    }
}
