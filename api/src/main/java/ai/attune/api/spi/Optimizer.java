package ai.attune.api.spi;

import ai.attune.api.nn.Parameter;

import java.util.List;

/**
 * An optimizer technique, registered with {@code attune.optimizer=<name>} (e.g. {@code sgd},
 * {@code adamw}). Stateless: all state is in the {@link OptimizerState} the job owns.
 *
 * @param <C> the config record, bound from the recipe's {@code optimizer:} block with the same
 *            keys as the PyTorch constructor ({@code weight_decay}, {@code betas}, ...)
 */
public interface Optimizer<C> {
    String PROPERTY = "attune.optimizer";

    Class<C> configType();

    /** The config with PyTorch's defaults. */
    C defaultConfig();

    /** Updates every parameter that has a gradient, in place, with learning rate {@code lr}; increments the state's step. */
    void step(List<Parameter> params, OptimizerState state, C config, double lr);

    /**
     * Whether this optimizer computes its own step size under {@code config} (Adafactor's
     * {@code relative_step}). The recipe's {@code lr} must then be null or left out, no schedule
     * applies, and {@link #step} is passed NaN for {@code lr}. By default the step size is the
     * scheduled lr.
     */
    default boolean ownsLearningRate(C config) {
        return false;
    }
}
