package ai.attune.plugins.prefixtuning;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * PEFT's {@code PrefixTuningConfig}, bound from the recipe's {@code prefix_tuning:} block.
 *
 * @param numVirtualTokens  P, the prefix length (PEFT requires it; 20 when left out)
 * @param prefixProjection  reparameterise through PEFT's {@code PrefixEncoder} MLP:
 *                          Embedding(P, token_dim) → Linear(token_dim, encoder_hidden_size) → tanh → Linear(…, layers·2·token_dim)
 * @param encoderHiddenSize the MLP's hidden size (PEFT's default: the model's hidden size)
 * @param initFrom          a prefix-tuning adapter directory whose {@code prompt_embeddings} start the run (without projection), or null
 */
public record PrefixTuningConfig(
        @JsonProperty("num_virtual_tokens") int numVirtualTokens,
        @JsonProperty("prefix_projection") boolean prefixProjection,
        @JsonProperty("encoder_hidden_size") Integer encoderHiddenSize,
        @JsonProperty("init_from") String initFrom) {

    public static final PrefixTuningConfig DEFAULTS = new PrefixTuningConfig(20, false, null, null);

    public PrefixTuningConfig {
        if (numVirtualTokens <= 0) {
            throw new IllegalArgumentException("num_virtual_tokens must be a positive integer, got " + numVirtualTokens);
        }
        if (encoderHiddenSize != null && encoderHiddenSize <= 0) {
            throw new IllegalArgumentException("encoder_hidden_size must be a positive integer, got " + encoderHiddenSize);
        }
        if (prefixProjection && initFrom != null) {
            throw new IllegalArgumentException("init_from with prefix_projection is not supported: a saved adapter holds the projected "
                    + "prefix, not the projection; set prefix_projection: false to start from it");
        }
    }

    @JsonCreator
    static PrefixTuningConfig bind(@JsonProperty("num_virtual_tokens") Integer p, @JsonProperty("prefix_projection") Boolean projection,
                                   @JsonProperty("encoder_hidden_size") Integer hidden, @JsonProperty("init_from") String initFrom) {
        return new PrefixTuningConfig(p == null ? DEFAULTS.numVirtualTokens : p, projection != null && projection, hidden, initFrom);
    }
}
