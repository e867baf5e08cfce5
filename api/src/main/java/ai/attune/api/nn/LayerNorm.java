package ai.attune.api.nn;

import ai.attune.api.autograd.F;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;

/** {@code torch.nn.LayerNorm} over the last dim, elementwise affine: weight ones, bias zeros. */
public class LayerNorm extends Module {
    private final Parameter weight;
    private final Parameter bias;
    private final double eps;

    public LayerNorm(Backend be, DType dtype, Scope scope, int dim, double eps) {
        Tensor w = be.zeros(dtype, new int[] {dim}, scope);
        be.fill(w, 1.0);
        this.weight = register("weight", new Parameter("weight", w, true));
        this.bias = register("bias", new Parameter("bias", be.zeros(dtype, new int[] {dim}, scope), true));
        this.eps = eps;
    }

    public Parameter weight() {
        return weight;
    }

    public Parameter bias() {
        return bias;
    }

    public Tensor forward(Tensor x) {
        return F.layerNorm(x, weight.value(), bias.value(), eps);
    }
}
