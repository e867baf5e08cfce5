package ai.attune.plugins.prompttuning;

import ai.attune.api.nn.Module;
import ai.attune.api.nn.Parameter;
import ai.attune.api.tensor.Tensor;

/** The learned virtual tokens, [P, hidden]: PEFT's {@code PromptEmbedding}, registered as {@code prompt_encoder.weight}. */
final class PromptEncoder extends Module {
    static final String NAME = "prompt_encoder";
    private final Parameter weight;

    PromptEncoder(Tensor value) {
        this.weight = register("weight", new Parameter("weight", value, true));
    }

    Parameter weight() {
        return weight;
    }
}
