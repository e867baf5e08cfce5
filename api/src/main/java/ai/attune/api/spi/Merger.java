package ai.attune.api.spi;

import ai.attune.api.tensor.Tensor;

import java.util.List;

/**
 * A model-merge method (task arithmetic, TIES, DARE), registered with {@code attune.merge=<name>}.
 * Like mergekit's merge methods it is a pure function of one tensor name at a time.
 */
public interface Merger<C> {
    String PROPERTY = "attune.merge";

    Class<C> configType();

    /** Merges one tensor: the base model's value and each model's value, with per-model weights. */
    Tensor merge(String tensorName, Tensor base, List<Tensor> models, List<Double> weights, C config);
}
