package ai.attune.plugins.model.gpt2;

import ai.attune.api.io.SafetensorsReader;
import ai.attune.api.model.ModelConfig;
import ai.attune.api.model.ModelLoadException;
import ai.attune.api.model.Weights;

import java.io.IOException;
import java.util.Locale;
import java.util.function.UnaryOperator;

/**
 * The {@code GPT2Config} keys GPT2LMHeadModel reads from {@code config.json}, with transformers'
 * defaults where a default is harmless. The sizes have no default here: a config without them is
 * more likely broken than meant to be the 124M model.
 *
 * @param nEmbd                       {@code n_embd}, the residual width
 * @param nLayer                      {@code n_layer}
 * @param nHead                       {@code n_head}
 * @param nPositions                  {@code n_positions}, rows of the learned position table
 * @param vocabSize                   {@code vocab_size}
 * @param nInner                      {@code n_inner}, the MLP width (4 * n_embd when null)
 * @param layerNormEpsilon            {@code layer_norm_epsilon}
 * @param activation                  {@code activation_function}
 * @param scaleAttnWeights            {@code scale_attn_weights}: divide scores by sqrt(head_dim)
 * @param scaleAttnByInverseLayerIdx  {@code scale_attn_by_inverse_layer_idx}: also divide by layer_idx + 1
 * @param reorderAndUpcastAttn        {@code reorder_and_upcast_attn} (see {@link Gpt2Attention})
 * @param tieWordEmbeddings           {@code tie_word_embeddings}: lm_head shares wte's weight
 * @param embdPdrop                   {@code embd_pdrop}, kept for a training hook
 * @param attnPdrop                   {@code attn_pdrop}, kept for a training hook
 * @param residPdrop                  {@code resid_pdrop}, kept for a training hook
 */
public record Gpt2Config(int nEmbd, int nLayer, int nHead, int nPositions, int vocabSize, int nInner,
                         double layerNormEpsilon, Activation activation, boolean scaleAttnWeights,
                         boolean scaleAttnByInverseLayerIdx, boolean reorderAndUpcastAttn, boolean tieWordEmbeddings,
                         double embdPdrop, double attnPdrop, double residPdrop) {

    /** {@code activation_function} values, by transformers' ACT2FN names. */
    public enum Activation {
        /** {@code gelu_new}, {@code gelu_pytorch_tanh}, {@code gelu_fast}: the tanh approximation GPT-2 was trained with. */
        GELU_TANH,
        /** {@code gelu}: the exact erf form. */
        GELU_ERF,
        RELU,
        /** {@code silu} / {@code swish}. */
        SILU;

        static Activation of(ModelConfig c, String key) throws ModelLoadException {
            String name = c.stringOr(key, "gelu_new");
            return switch (name.toLowerCase(Locale.ROOT)) {
                case "gelu_new", "gelu_pytorch_tanh", "gelu_fast" -> GELU_TANH;
                case "gelu" -> GELU_ERF;
                case "relu" -> RELU;
                case "silu", "swish" -> SILU;
                default -> throw c.error("key '" + key + "' is '" + name
                        + "'; supported: gelu_new, gelu_pytorch_tanh, gelu_fast, gelu, relu, silu, swish");
            };
        }
    }

    /** Reads and checks the keys; errors name config.json and the key. */
    public static Gpt2Config from(ModelConfig c) throws ModelLoadException {
        int nEmbd = size(c, "n_embd", "hidden_size");
        int nLayer = size(c, "n_layer", "num_hidden_layers");
        int nHead = size(c, "n_head", "num_attention_heads");
        int nPositions = size(c, "n_positions", "max_position_embeddings");
        int vocabSize = size(c, "vocab_size", null);
        if (nEmbd % nHead != 0) {
            throw c.error("key 'n_embd' (" + nEmbd + ") is not a multiple of key 'n_head' (" + nHead + ")");
        }
        if (3L * nEmbd > Integer.MAX_VALUE) {
            throw c.error("key 'n_embd' (" + nEmbd + ") is too large: c_attn has 3 * n_embd columns");
        }
        if (!c.has("n_inner") && 4L * nEmbd > Integer.MAX_VALUE) {
            throw c.error("key 'n_embd' (" + nEmbd + ") is too large: the MLP has 4 * n_embd units when n_inner is not given");
        }
        int nInner = c.has("n_inner") ? positive(c, "n_inner", c.requireInt("n_inner")) : 4 * nEmbd;
        double eps = c.doubleOr("layer_norm_epsilon", 1e-5);
        if (!(eps >= 0) || Double.isInfinite(eps)) {
            throw c.error("key 'layer_norm_epsilon' must be a finite number >= 0, found " + eps);
        }
        return new Gpt2Config(nEmbd, nLayer, nHead, nPositions, vocabSize, nInner, eps,
                Activation.of(c, "activation_function"),
                c.boolOr("scale_attn_weights", true),
                c.boolOr("scale_attn_by_inverse_layer_idx", false),
                c.boolOr("reorder_and_upcast_attn", false),
                c.boolOr("tie_word_embeddings", true),
                probability(c, "embd_pdrop"), probability(c, "attn_pdrop"), probability(c, "resid_pdrop"));
    }

    /**
     * Before the model is built: the tensors whose shapes the size keys set must have them in the
     * checkpoint ({@code names} maps module paths to its tensor names), so a size that does not
     * describe the weights is refused before anything is allocated.
     */
    void checkAgainst(ModelConfig c, SafetensorsReader w, UnaryOperator<String> names) throws IOException {
        Weights.expectShape(w, c, names.apply("transformer.wte.weight"), "vocab_size " + vocabSize + " and n_embd " + nEmbd, vocabSize, nEmbd);
        Weights.expectShape(w, c, names.apply("transformer.wpe.weight"), "n_positions " + nPositions + " and n_embd " + nEmbd, nPositions, nEmbd);
        for (int i = 0; i < nLayer; i++) {
            String p = "transformer.h." + i + ".";
            Weights.expectShape(w, c, names.apply(p + "attn.c_attn.weight"), "n_layer " + nLayer + " and n_embd " + nEmbd, nEmbd, 3L * nEmbd);
            Weights.expectShape(w, c, names.apply(p + "mlp.c_fc.weight"), "n_layer " + nLayer + ", n_embd " + nEmbd + " and n_inner " + nInner,
                    nEmbd, nInner);
        }
    }

    public int headDim() {
        return nEmbd / nHead;
    }

    /**
     * A required positive size. transformers' attribute_map lets a config say {@code hidden_size}
     * for {@code n_embd} and so on, so the alias is read too; both present and different is a
     * contradiction.
     */
    private static int size(ModelConfig c, String key, String alias) throws ModelLoadException {
        boolean hasAlias = alias != null && c.has(alias);
        if (!c.has(key) && hasAlias) {
            return positive(c, alias, c.requireInt(alias));
        }
        int value = positive(c, key, c.requireInt(key)); // names the key when it is missing
        if (hasAlias && c.requireInt(alias) != value) {
            throw c.error("key '" + key + "' (" + value + ") contradicts its alias '" + alias + "' (" + c.requireInt(alias) + ")");
        }
        return value;
    }

    private static int positive(ModelConfig c, String key, int value) throws ModelLoadException {
        if (value < 1) {
            throw c.error("key '" + key + "' must be a positive integer, found " + value);
        }
        return value;
    }

    private static double probability(ModelConfig c, String key) throws ModelLoadException {
        double p = c.doubleOr(key, 0.1);
        if (!(p >= 0 && p <= 1)) {
            throw c.error("key '" + key + "' must be a probability in [0, 1], found " + p);
        }
        return p;
    }
}
