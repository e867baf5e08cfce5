package ai.attune.api.nn;

import ai.attune.api.autograd.F;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;

/** {@code torch.nn.Embedding}: weight [num, dim]; ids [...] to [..., dim]. */
public class Embedding extends Module {
    private final Parameter weight;

    public Embedding(Backend be, DType dtype, Scope scope, int num, int dim) {
        this.weight = register("weight", new Parameter("weight", be.zeros(dtype, new int[] {num, dim}, scope), true));
    }

    public Parameter weight() {
        return weight;
    }

    public Tensor forward(Tensor ids) {
        return F.embedding(weight.value(), ids);
    }
}
