package ai.attune.plugins.model.bert;

import ai.attune.api.autograd.F;
import ai.attune.api.nn.Linear;
import ai.attune.api.nn.Mlp;
import ai.attune.api.model.ModelHooks;
import ai.attune.api.nn.Module;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;

/**
 * transformers' {@code BertLayer}, post-LN: {@code x = LN(x + attention(x))}, then
 * {@code x = LN(x + output(act(intermediate(x))))}. The child names ({@code attention.self.query},
 * {@code intermediate.dense}, {@code output.LayerNorm}) are the checkpoint's.
 */
final class BertLayer extends Module {
    private final Attention attention;
    private final Intermediate intermediate;
    private final BertOutput output;

    BertLayer(BertConfig c, Backend be, DType dtype, Scope scope) {
        this.attention = register("attention", new Attention(c, be, dtype, scope));
        this.intermediate = register("intermediate", new Intermediate(c, be, dtype, scope));
        this.output = register("output", new BertOutput(c, be, dtype, scope, c.intermediateSize()));
    }

    /** x [batch, t, hidden], keyMask [batch, t] or null, to [batch, t, hidden]. */
    Tensor forward(Tensor x, Tensor keyMask, ModelHooks hooks, int layer) {
        Tensor a = attention.forward(x, keyMask, out -> hooks.attentionOutput(layer, out));
        return output.forward(intermediate.forward(a), a, out -> hooks.mlpOutput(layer, out));
    }

    /** {@code BertAttention}: self-attention, then its output projection and residual LayerNorm. */
    static final class Attention extends Module {
        private final BertSelfAttention self;
        private final BertOutput output;

        Attention(BertConfig c, Backend be, DType dtype, Scope scope) {
            this.self = register("self", new BertSelfAttention(c, be, dtype, scope));
            this.output = register("output", new BertOutput(c, be, dtype, scope, c.hiddenSize()));
        }

        Tensor forward(Tensor x, Tensor keyMask, java.util.function.UnaryOperator<Tensor> hook) {
            return output.forward(self.forward(x, keyMask), x, hook);
        }
    }

    /** {@code BertIntermediate}: the up-projection and {@code hidden_act}. */
    static final class Intermediate extends Module {
        private final Linear dense;
        private final Mlp.Activation act;

        Intermediate(BertConfig c, Backend be, DType dtype, Scope scope) {
            this.dense = register("dense", new Linear(be, dtype, scope, c.hiddenSize(), c.intermediateSize(), true));
            this.act = c.hiddenAct();
        }

        /** [batch, t, hidden] to [batch, t, intermediate]. */
        Tensor forward(Tensor x) {
            Tensor h = dense.forward(x);
            return switch (act) {
                case GELU_ERF -> F.gelu(h, false);
                case GELU_TANH -> F.gelu(h, true);
                case RELU -> F.relu(h);
                case SILU -> F.silu(h);
            };
        }
    }
}
