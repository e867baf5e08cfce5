package ai.attune.plugins.model.bert;

import ai.attune.api.io.SafetensorsReader;
import ai.attune.api.model.ModelConfig;
import ai.attune.api.model.ModelLoadException;
import ai.attune.api.model.Weights;
import ai.attune.api.nn.Mlp;

import java.io.IOException;

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
        if (!(b.layerNormEps > 0) || Double.isInfinite(b.layerNormEps)) {
            throw c.error("key 'layer_norm_eps' must be positive, found " + b.layerNormEps);
        }
        if (!(b.hiddenDropoutProb >= 0 && b.hiddenDropoutProb <= 1)) {
            throw c.error("key 'hidden_dropout_prob' must be a probability in [0, 1], found " + b.hiddenDropoutProb);
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

    /**
     * Before the model is built: the tensors whose shapes the size keys set must have them in the
     * checkpoint (names after {@code prefix}), so a size that does not describe the weights is
     * refused before anything is allocated.
     */
    void checkAgainst(ModelConfig c, SafetensorsReader w, String prefix) throws IOException {
        String h = " and hidden_size " + hiddenSize;
        Weights.expectShape(w, c, prefix + "embeddings.word_embeddings.weight", "vocab_size " + vocabSize + h, vocabSize, hiddenSize);
        Weights.expectShape(w, c, prefix + "embeddings.position_embeddings.weight", "max_position_embeddings " + maxPositionEmbeddings + h,
                maxPositionEmbeddings, hiddenSize);
        Weights.expectShape(w, c, prefix + "embeddings.token_type_embeddings.weight", "type_vocab_size " + typeVocabSize + h,
                typeVocabSize, hiddenSize);
        for (int i = 0; i < numHiddenLayers; i++) {
            String p = prefix + "encoder.layer." + i + ".";
            Weights.expectShape(w, c, p + "attention.self.query.weight", "num_hidden_layers " + numHiddenLayers + h, hiddenSize, hiddenSize);
            Weights.expectShape(w, c, p + "intermediate.dense.weight", "num_hidden_layers " + numHiddenLayers + ", intermediate_size "
                    + intermediateSize + h, intermediateSize, hiddenSize);
        }
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
