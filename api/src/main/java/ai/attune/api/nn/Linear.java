package ai.attune.api.nn;

import ai.attune.api.autograd.F;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;

/** {@code torch.nn.Linear}: {@code y = x @ weight^T + bias}, weight [out, in], bias [out] (optional). */
public class Linear extends LinearLayer {
    private final Parameter weight;
    private final Parameter bias;

    public Linear(Backend be, DType dtype, Scope scope, int in, int out, boolean bias) {
        this.weight = register("weight", new Parameter("weight", be.zeros(dtype, new int[] {out, in}, scope), true));
        this.bias = bias ? register("bias", new Parameter("bias", be.zeros(dtype, new int[] {out}, scope), true)) : null;
    }

    /** A Linear over existing parameters, e.g. an output head tied to the input embedding. bias may be null. */
    public Linear(Parameter weight, Parameter bias) {
        this.weight = register("weight", weight);
        this.bias = bias == null ? null : register("bias", bias);
    }

    @Override
    public Parameter weight() {
        return weight;
    }

    /** The bias, or null. */
    @Override
    public Parameter bias() {
        return bias;
    }

    @Override
    public boolean fanInFanOut() {
        return false;
    }

    /** x [..., in] to [..., out]. */
    @Override
    protected Tensor base(Tensor x) {
        return F.linear(x, weight.value(), bias == null ? null : bias.value());
    }
}
