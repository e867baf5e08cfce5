package ai.attune.api.nn;

import ai.attune.api.autograd.F;
import ai.attune.api.autograd.Ops;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;

/** The Llama MLP ({@code LlamaMLP}): {@code down_proj(silu(gate_proj(x)) * up_proj(x))}, biases per {@code mlp_bias}. */
public class SwiGluMlp extends Module {
    private final Linear gateProj;
    private final Linear upProj;
    private final Linear downProj;

    public SwiGluMlp(Backend be, DType dtype, Scope scope, int hidden, int intermediate) {
        this(be, dtype, scope, hidden, intermediate, false);
    }

    public SwiGluMlp(Backend be, DType dtype, Scope scope, int hidden, int intermediate, boolean bias) {
        this.gateProj = register("gate_proj", new Linear(be, dtype, scope, hidden, intermediate, bias));
        this.upProj = register("up_proj", new Linear(be, dtype, scope, hidden, intermediate, bias));
        this.downProj = register("down_proj", new Linear(be, dtype, scope, intermediate, hidden, bias));
    }

    public Tensor forward(Tensor x) {
        return downProj.forward(Ops.mul(F.silu(gateProj.forward(x)), upProj.forward(x)));
    }
}
