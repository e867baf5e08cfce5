package ai.attune.api.nn;

import ai.attune.api.autograd.F;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;

/** Llama's RMSNorm ({@code LlamaRMSNorm}): weight [dim] initialised to ones, {@code rms_norm_eps}. */
public class RMSNorm extends Module {
    private final Parameter weight;
    private final double eps;

    public RMSNorm(Backend be, DType dtype, Scope scope, int dim, double eps) {
        Tensor w = be.zeros(dtype, new int[] {dim}, scope);
        be.fill(w, 1.0);
        this.weight = register("weight", new Parameter("weight", w, true));
        this.eps = eps;
    }

    public Parameter weight() {
        return weight;
    }

    public Tensor forward(Tensor x) {
        return F.rmsNorm(x, weight.value(), eps);
    }
}
