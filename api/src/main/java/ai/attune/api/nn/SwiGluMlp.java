package ai.attune.api.nn;

import ai.attune.api.autograd.F;
import ai.attune.api.autograd.Ops;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;

/** The Llama MLP ({@code LlamaMLP}): {@code down_proj(silu(gate_proj(x)) * up_proj(x))}, no biases. */
public class SwiGluMlp extends Module {
    private final Linear gateProj;
    private final Linear upProj;
    private final Linear downProj;

    public SwiGluMlp(Backend be, DType dtype, Scope scope, int hidden, int intermediate) {
        this.gateProj = register("gate_proj", new Linear(be, dtype, scope, hidden, intermediate, false));
        this.upProj = register("up_proj", new Linear(be, dtype, scope, hidden, intermediate, false));
        this.downProj = register("down_proj", new Linear(be, dtype, scope, intermediate, hidden, false));
    }

    public Tensor forward(Tensor x) {
        return downProj.forward(Ops.mul(F.silu(gateProj.forward(x)), upProj.forward(x)));
    }
}
