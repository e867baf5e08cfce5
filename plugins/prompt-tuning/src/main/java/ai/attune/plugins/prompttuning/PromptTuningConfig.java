package ai.attune.plugins.prompttuning;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * PEFT's {@code PromptTuningConfig}, bound from the recipe's {@code prompt_tuning:} block.
 *
 * @param numVirtualTokens    P, the number of learned virtual tokens (PEFT requires it; 20 when left out)
 * @param promptTuningInit    {@code RANDOM} (PEFT's default: N(0, 1), as {@code torch.nn.Embedding}) or {@code TEXT}
 *                            (the base model's embeddings of {@code prompt_tuning_init_text}'s tokens)
 * @param promptTuningInitText the text whose token embeddings start the prompt under {@code TEXT} (required there)
 * @param initFrom            a prompt-tuning adapter directory whose {@code prompt_embeddings} start the run, or null
 */
public record PromptTuningConfig(
        @JsonProperty("num_virtual_tokens") int numVirtualTokens,
        @JsonProperty("prompt_tuning_init") String promptTuningInit,
        @JsonProperty("prompt_tuning_init_text") String promptTuningInitText,
        @JsonProperty("init_from") String initFrom) {

    public static final PromptTuningConfig DEFAULTS = new PromptTuningConfig(20, "RANDOM", null, null);

    public PromptTuningConfig {
        if (numVirtualTokens <= 0) {
            throw new IllegalArgumentException("num_virtual_tokens must be a positive integer, got " + numVirtualTokens);
        }
        promptTuningInit = promptTuningInit == null ? "RANDOM" : promptTuningInit;
        if (!promptTuningInit.equals("RANDOM") && !promptTuningInit.equals("TEXT")) {
            throw new IllegalArgumentException("prompt_tuning_init must be RANDOM or TEXT, got '" + promptTuningInit + "'");
        }
        if (promptTuningInit.equals("TEXT") && promptTuningInitText == null) {
            throw new IllegalArgumentException("prompt_tuning_init TEXT needs prompt_tuning_init_text, the text whose token embeddings start the prompt");
        }
    }

    @JsonCreator
    static PromptTuningConfig bind(@JsonProperty("num_virtual_tokens") Integer p, @JsonProperty("prompt_tuning_init") String init,
                                   @JsonProperty("prompt_tuning_init_text") String text, @JsonProperty("init_from") String initFrom) {
        return new PromptTuningConfig(p == null ? DEFAULTS.numVirtualTokens : p, init, text, initFrom);
    }
}
