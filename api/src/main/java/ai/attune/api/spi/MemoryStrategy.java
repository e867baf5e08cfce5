package ai.attune.api.spi;

import ai.attune.api.nn.Module;

/**
 * A way to trade compute for memory or precision (gradient checkpointing, mixed precision),
 * registered with {@code attune.memory=<name>}.
 */
public interface MemoryStrategy<C> {
    String PROPERTY = "attune.memory";

    Class<C> configType();

    /** Installs the strategy on a model before training starts. */
    void apply(Module model, C config);
}
