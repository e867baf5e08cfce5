package ai.attune.api.autograd;

import ai.attune.api.tensor.Tensor;

import java.util.Arrays;
import java.util.List;

/** A node recorded by a built-in op: its inputs and a closure that maps output gradients to input gradients. */
final class OpNode implements Node {
    /** The backward of a single-output op. */
    @FunctionalInterface
    interface Backward {
        Tensor[] apply(Tensor gradOut);
    }

    private final String name;
    private final List<Tensor> inputs;
    private final Backward backward;

    OpNode(String name, Tensor[] inputs, Backward backward) {
        this.name = name;
        this.inputs = Arrays.asList(inputs);
        this.backward = backward;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public List<Tensor> inputs() {
        return inputs;
    }

    @Override
    public int outputCount() {
        return 1;
    }

    @Override
    public Tensor[] backward(Tensor[] gradOutputs) {
        return backward.apply(gradOutputs[0]);
    }

    /** Records {@code out} as produced by an op on {@code inputs} when grad mode is on and an input requires grad. */
    static Tensor record(String name, Tensor out, Tensor[] inputs, Backward backward) {
        if (!GradMode.isEnabled()) {
            return out;
        }
        for (Tensor in : inputs) {
            if (in != null && in.requiresGrad()) {
                out.setGradFn(new OpNode(name, inputs, backward), 0);
                return out;
            }
        }
        return out;
    }
}
