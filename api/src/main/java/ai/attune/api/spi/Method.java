package ai.attune.api.spi;

import ai.attune.api.nn.Module;
import ai.attune.api.nn.Parameter;
import com.fasterxml.jackson.databind.JsonNode;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * A fine-tuning method (full, LoRA, QLoRA, adapters, prefix or prompt tuning), registered with
 * {@code attune.method=<name>}; names and config keys are PEFT's ({@code lora}, {@code r},
 * {@code lora_alpha}, {@code target_modules}, ...).
 *
 * @param <C> the config record, bound from the recipe's block of the method's name (or {@link #configKey()})
 */
public interface Method<C> {
    String PROPERTY = "attune.method";

    Class<C> configType();

    /** The config with the method's defaults. */
    C defaultConfig();

    /**
     * The recipe key of this method's config block when it is another method's: QLoRA is configured
     * as LoRA is, in a {@code lora:} block, as PEFT users pass a LoraConfig beside their
     * BitsAndBytesConfig. Null (the default): the block is named after the method.
     */
    default String configKey() {
        return null;
    }

    /**
     * Prepares the model in place (wrapping modules, freezing the base) and returns the parameters
     * to train, in a stable order. Everything else must end up with {@code trainable = false}.
     */
    List<Parameter> apply(Module model, C config, MethodContext context) throws IOException;

    /**
     * Writes the trained result to {@code out}, which does not exist yet: a PEFT adapter directory,
     * or a full Hugging Face model directory.
     */
    void save(Module model, C config, MethodContext context, Path out) throws IOException;

    /** Reports numbers about the method's trained state after each optimizer step; nothing by default. */
    default void metrics(Module model, C config, Metrics sink) {}

    /**
     * Whether an adapter directory is one this method saves, judged from its parsed
     * {@code adapter_config.json} (PEFT's {@code peft_type}, AdapterHub's {@code config} object).
     */
    default boolean recognizes(JsonNode adapterConfig) {
        return false;
    }

    /**
     * Puts the adapter saved in {@code dir} onto {@code model} for inference: merged into the base
     * weights where the method can ({@link #mergesIntoWeights()}), else installed as it trains.
     */
    default void load(Module model, Path dir, MethodContext context) throws IOException {
        throw new UnsupportedOperationException(getClass().getSimpleName() + " cannot load a saved adapter");
    }

    /**
     * The adapter saved in {@code dir} as additive updates of named base weights, for a merge that
     * streams the base ({@code BASE+ADAPTER} in a merge config); only methods that
     * {@link #mergesIntoWeights()} have them.
     */
    default java.util.List<ai.attune.api.model.WeightUpdate> weightUpdates(Path dir) throws IOException {
        throw new UnsupportedOperationException(getClass().getSimpleName() + "'s adapters add to the forward and cannot be merged into weights");
    }

    /** Whether {@link #load} leaves plain base weights, so that {@code export} can write a full model. */
    default boolean mergesIntoWeights() {
        return false;
    }
}
