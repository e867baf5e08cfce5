package ai.attune.plugins.model.gpt2;

import ai.attune.api.autograd.Ops;
import ai.attune.api.autograd.Views;
import ai.attune.api.nn.LinearLayer;
import ai.attune.api.nn.Parameter;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;

/**
 * transformers' {@code Conv1D} ({@code pytorch_utils.Conv1D}): a linear layer whose weight is
 * stored transposed, [in, out], as the original TensorFlow GPT-2 kept it; {@code y = x @ W + b}.
 * PEFT adapts it with {@code fan_in_fan_out=True} for that reason.
 */
public class Conv1D extends LinearLayer {
    private final Parameter weight;
    private final Parameter bias;

    public Conv1D(Backend be, DType dtype, Scope scope, int in, int out) {
        this.weight = register("weight", new Parameter("weight", be.zeros(dtype, new int[] {in, out}, scope), true));
        this.bias = register("bias", new Parameter("bias", be.zeros(dtype, new int[] {out}, scope), true));
    }

    /** [in, out]. */
    @Override
    public Parameter weight() {
        return weight;
    }

    /** [out]. */
    @Override
    public Parameter bias() {
        return bias;
    }

    @Override
    public boolean fanInFanOut() {
        return true;
    }

    /** x [..., in] to [..., out], as one GEMM over all leading dims. */
    @Override
    protected Tensor base(Tensor x) {
        int[] xs = x.shape();
        Tensor x2 = Views.reshape(x, -1, inFeatures()); // [rows, in]
        Tensor y = Ops.add(Ops.matmul(x2, weight.value()), bias.value()); // [rows, out]
        int[] ys = xs.clone();
        ys[ys.length - 1] = outFeatures();
        return Views.reshape(y, ys);
    }
}
