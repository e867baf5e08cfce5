package ai.attune.api.spi;

import ai.attune.api.nn.Module;
import ai.attune.api.nn.Parameter;

import java.util.List;

/**
 * A fine-tuning method (full, LoRA, QLoRA, adapters, prefix or prompt tuning), registered with
 * {@code attune.method=<name>}; names and config keys are PEFT's ({@code lora}, {@code r},
 * {@code lora_alpha}, {@code target_modules}, ...).
 */
public interface Method<C> {
    String PROPERTY = "attune.method";

    Class<C> configType();

    /** Prepares the model in place (wrapping or freezing modules) and returns the parameters to train. */
    List<Parameter> apply(Module model, C config);
}
