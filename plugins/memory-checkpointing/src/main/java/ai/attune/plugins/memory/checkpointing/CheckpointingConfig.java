package ai.attune.plugins.memory.checkpointing;

import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * Gradient checkpointing's options, with {@code torch.utils.checkpoint}'s name and default.
 *
 * @param preserveRngState draw the same dropout masks when a block is run again in backward, so the
 *                         gradients are those of the forward that was run; false saves nothing
 *                         measurable here and gives gradients of other masks
 */
public record CheckpointingConfig(@JsonProperty("preserve_rng_state") boolean preserveRngState) {
    public static final CheckpointingConfig DEFAULTS = new CheckpointingConfig(true);
}
