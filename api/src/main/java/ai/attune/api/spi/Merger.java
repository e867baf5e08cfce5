package ai.attune.api.spi;

import java.util.List;

/**
 * A model-merge method, registered with {@code attune.merge=<name>} under mergekit's
 * {@code merge_method} name ({@code linear}, {@code ties}, {@code dare_linear}, ...).
 *
 * <p>Like mergekit's merge methods it is a function of one tensor name at a time, with a declared
 * parameter schema. The host resolves the parameters per tensor (gradients, filters, per-model
 * overrides), checks every tensor before it writes anything, then streams each tensor through the
 * method in chunks, so a merge holds a few chunks in memory, never a model.
 */
public interface Merger {
    String PROPERTY = "attune.merge";

    /** Parameters of the whole merge, mergekit's {@code parameters()} ({@code normalize}, {@code lambda}, {@code t}, ...). */
    List<MergeParameter> parameters();

    /** Parameters of each input model, mergekit's {@code tensor_parameters()} ({@code weight}, {@code density}, ...). */
    List<MergeParameter> tensorParameters();

    /** Whether {@code base_model} must be given (task vectors are differences from it). */
    boolean requiresBaseModel();

    /** The paper or page that defines the method. */
    String referenceUrl();

    /**
     * Refuses a tensor the method cannot merge, before any output exists.
     *
     * @throws IllegalArgumentException with a one-line reason (the host adds the tensor's name)
     */
    default void check(MergeTensor tensor) {}

    /** Starts merging one tensor; the returned merge sees its chunks in element order. */
    TensorMerge begin(MergeTensor tensor);
}
