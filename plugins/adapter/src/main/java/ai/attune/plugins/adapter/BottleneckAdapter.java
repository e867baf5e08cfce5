package ai.attune.plugins.adapter;

import ai.attune.api.autograd.Ops;
import ai.attune.api.nn.Linear;
import ai.attune.api.nn.Module;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.UnaryOp;

/**
 * One bottleneck adapter, AdapterHub's {@code Adapter}: {@code A(y) = y + scaling·(W_up·f(W_down·y + b_down) + b_up)}
 * with scaling 1. Its parameters are {@code adapter_down.0.{weight,bias}} [r, D], [r] and
 * {@code adapter_up.{weight,bias}} [D, r], [D], as AdapterHub names them.
 */
final class BottleneckAdapter extends Module {
    private final Linear down;
    private final Linear up;
    private final UnaryOp activation;

    BottleneckAdapter(Backend be, Scope scope, int hidden, int r, UnaryOp activation) {
        this.down = register("adapter_down.0", new Linear(be, DType.F32, scope, hidden, r, true));
        this.up = register("adapter_up", new Linear(be, DType.F32, scope, r, hidden, true));
        this.activation = activation;
    }

    /** y [b, t, D]. */
    Tensor forward(Tensor y) {
        return Ops.add(y, up.forward(Ops.unary(activation, down.forward(y))));
    }
}
