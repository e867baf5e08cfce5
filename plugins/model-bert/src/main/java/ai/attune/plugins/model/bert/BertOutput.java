package ai.attune.plugins.model.bert;

import ai.attune.api.autograd.Ops;
import ai.attune.api.nn.Dropout;
import ai.attune.api.nn.LayerNorm;
import ai.attune.api.nn.Linear;
import ai.attune.api.nn.Module;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;

/**
 * transformers' {@code BertSelfOutput} and {@code BertOutput}, which differ only in the dense
 * layer's input width: {@code LayerNorm(dropout(dense(h)) + residual)}, the post-LN residual.
 */
final class BertOutput extends Module {
    private final Linear dense;
    private final LayerNorm layerNorm;
    private final Dropout dropout;

    BertOutput(BertConfig c, Backend be, DType dtype, Scope scope, int in) {
        this.dense = register("dense", new Linear(be, dtype, scope, in, c.hiddenSize(), true));
        this.layerNorm = register("LayerNorm", new LayerNorm(be, dtype, scope, c.hiddenSize(), c.layerNormEps()));
        this.dropout = register("dropout", new Dropout(c.hiddenDropoutProb()));
    }

    /** h [batch, t, in] and the block's input [batch, t, hidden] to [batch, t, hidden]. */
    /** hook: the sublayer output after dropout, before the residual add and the LayerNorm (where AdapterHub's BERT adapters sit). */
    Tensor forward(Tensor h, Tensor residual, java.util.function.UnaryOperator<Tensor> hook) {
        return layerNorm.forward(Ops.add(hook.apply(dropout.forward(dense.forward(h))), residual));
    }
}
