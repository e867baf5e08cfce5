package ai.attune.api.autograd;

import ai.attune.api.tensor.Tensor;

import java.util.List;

/**
 * One recorded op on the autograd tape ({@code grad_fn} in PyTorch): it knows its inputs and
 * maps the gradients of its outputs to the gradients of its inputs.
 */
public interface Node {
    /** The op's name, for error messages and debugging, e.g. {@code "MatmulBackward"}. */
    String name();

    /** The op's inputs; gradients flow to those that require grad. */
    List<Tensor> inputs();

    /** Number of outputs the op produced. */
    int outputCount();

    /**
     * Gradients of the inputs given the gradients of the outputs. {@code gradOutputs[i]} is null
     * when output i did not reach the loss; a returned entry may be null for an input that needs
     * no gradient.
     */
    Tensor[] backward(Tensor[] gradOutputs);

    /**
     * Tensors the op's forward saved for its backward beyond its inputs and outputs (a softmax's
     * statistics, a dropout mask): backward gives their memory back once every node that saved
     * them has run.
     */
    default List<Tensor> saved() {
        return List.of();
    }
}
