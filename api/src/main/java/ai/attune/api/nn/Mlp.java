package ai.attune.api.nn;

import ai.attune.api.autograd.F;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;

/**
 * A two-layer feed-forward block {@code fc2(act(fc1(x)))} with biases, the shape of BERT's and
 * GPT-2's MLPs; model families register it under their own attribute names.
 */
public class Mlp extends Module {
    /** The activation between the layers. */
    public enum Activation { GELU_ERF, GELU_TANH, RELU, SILU }

    private final Linear fc1;
    private final Linear fc2;
    private final Activation activation;

    public Mlp(Backend be, DType dtype, Scope scope, int hidden, int intermediate, Activation activation, String fc1Name, String fc2Name) {
        this.fc1 = register(fc1Name, new Linear(be, dtype, scope, hidden, intermediate, true));
        this.fc2 = register(fc2Name, new Linear(be, dtype, scope, intermediate, hidden, true));
        this.activation = activation;
    }

    public Tensor forward(Tensor x) {
        Tensor h = fc1.forward(x);
        h = switch (activation) {
            case GELU_ERF -> F.gelu(h, false);
            case GELU_TANH -> F.gelu(h, true);
            case RELU -> F.relu(h);
            case SILU -> F.silu(h);
        };
        return fc2.forward(h);
    }
}
