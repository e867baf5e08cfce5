package ai.attune.plugins.memory.checkpointing;

import ai.attune.api.autograd.GradMode;
import ai.attune.api.model.CausalLM;
import ai.attune.api.model.ModelHooks;
import ai.attune.api.model.SentenceEncoder;
import ai.attune.api.nn.Module;
import ai.attune.api.nn.Parameter;
import ai.attune.api.spi.MemoryStrategy;
import ai.attune.api.tensor.Tensor;
import org.osgi.service.component.annotations.Component;

import java.util.ArrayList;
import java.util.List;

/**
 * Gradient checkpointing ({@code gradient_checkpointing_enable()} in transformers): every
 * transformer block of the model keeps only its input through forward and is run again in
 * backward ({@link CheckpointedBlock}), so a step holds one block's activations at a time instead
 * of all of them, for about one more forward of compute. Installed through the model's block hook,
 * the same for every family; in no-grad forwards (evaluation, generation) blocks run as they are.
 */
@Component(service = MemoryStrategy.class, property = MemoryStrategy.PROPERTY + "=gradient_checkpointing")
public final class GradientCheckpointing implements MemoryStrategy<CheckpointingConfig> {
    @Override
    public Class<CheckpointingConfig> configType() {
        return CheckpointingConfig.class;
    }

    @Override
    public CheckpointingConfig defaultConfig() {
        return CheckpointingConfig.DEFAULTS;
    }

    @Override
    public Session apply(Module model, CheckpointingConfig config) {
        ModelHooks hooks = model instanceof CausalLM lm ? lm.hooks() : model instanceof SentenceEncoder se ? se.hooks()
                : ModelHooks.unsupported(model.getClass().getSimpleName());
        hooks.setBlockRunner((layer, block, x, body) -> {
            if (!GradMode.isEnabled()) {
                return body.apply(x);
            }
            if (hooks.prefixLength() > 0) {
                // The prefix's keys and values are computed outside the block from trainable tensors.
                throw new UnsupportedOperationException("gradient checkpointing does not combine with prefix tuning's key/value prefix");
            }
            List<Tensor> inputs = new ArrayList<>();
            inputs.add(x);
            for (Parameter p : block.namedParameters().values()) {
                if (p.trainable()) {
                    inputs.add(p.value());
                }
            }
            return new CheckpointedBlock(layer, body, block.dropoutSeeds(), config.preserveRngState()).apply(inputs.toArray(Tensor[]::new))[0];
        });
        return new Session() { };
    }
}
