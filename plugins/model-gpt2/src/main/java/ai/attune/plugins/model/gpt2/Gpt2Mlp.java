package ai.attune.plugins.model.gpt2;

import ai.attune.api.autograd.F;
import ai.attune.api.nn.Module;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;

/** {@code GPT2MLP}: {@code c_proj(act(c_fc(x)))} with Conv1D layers. */
public class Gpt2Mlp extends Module {
    private final Conv1D cFc;
    private final Conv1D cProj;
    private final Gpt2Config.Activation activation;

    public Gpt2Mlp(Gpt2Config c, Backend be, DType dtype, Scope scope) {
        this.cFc = register("c_fc", new Conv1D(be, dtype, scope, c.nEmbd(), c.nInner()));
        this.cProj = register("c_proj", new Conv1D(be, dtype, scope, c.nInner(), c.nEmbd()));
        this.activation = c.activation();
    }

    /** x [batch, t, n_embd] to [batch, t, n_embd]. */
    public Tensor forward(Tensor x) {
        Tensor h = cFc.forward(x); // [batch, t, n_inner]
        h = switch (activation) {
            case GELU_TANH -> F.gelu(h, true);
            case GELU_ERF -> F.gelu(h, false);
            case RELU -> F.relu(h);
            case SILU -> F.silu(h);
        };
        return cProj.forward(h);
    }
}
