package ai.attune.api.nn;

import ai.attune.api.tensor.Tensor;

/**
 * A named weight of a module. The name is the Hugging Face dotted path
 * ({@code model.layers.0.self_attn.q_proj.weight}), so checkpoints and adapters map one to one.
 */
public final class Parameter {
    private final String name;
    private Tensor value;
    private boolean trainable;

    public Parameter(String name, Tensor value, boolean trainable) {
        this.name = name;
        this.trainable = trainable;
        set(value);
    }

    public String name() {
        return name;
    }

    public Tensor value() {
        return value;
    }

    /** Replaces the tensor, e.g. when loading a checkpoint or quantizing a base weight. */
    public void set(Tensor value) {
        this.value = value;
        value.named(name);
        value.requiresGrad(trainable);
    }

    public boolean trainable() {
        return trainable;
    }

    public void setTrainable(boolean trainable) {
        this.trainable = trainable;
        value.requiresGrad(trainable);
    }

    /** The accumulated gradient, or null before the first backward. */
    public Tensor grad() {
        return value.grad();
    }

    @Override
    public String toString() {
        return name + " " + value;
    }
}
