package ai.attune.runtime.train;

import ai.attune.api.autograd.Autocast;
import ai.attune.api.autograd.F;
import ai.attune.api.autograd.GradMode;
import ai.attune.api.autograd.Views;
import ai.attune.api.data.Example;
import ai.attune.api.model.CausalLM;
import ai.attune.api.nn.Linear;
import ai.attune.api.nn.LinearLayer;
import ai.attune.api.nn.Module;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;

import java.util.List;

/**
 * Next-token NLL of a causal LM over examples, as training computes its loss: labels shifted by
 * one, -100 ignored, summed over target tokens.
 */
public final class Perplexity {
    private Perplexity() {}

    /**
     * Summed NLL of one micro-batch's target tokens (a scalar that autograd can differentiate).
     * Where the model's head is a plain product with its frozen weight, the head and the loss run fused
     * ({@link F#linearCrossEntropy}), so the logits [rows, vocab] and their gradient never exist
     * whole; otherwise, and under autocast, the logits come from {@code forward}.
     */
    static Tensor nllSum(CausalLM model, MicroBatch mb, Backend be) {
        int rows = mb.rows() * (mb.virtual() + mb.length());
        LinearLayer head = model.outputHead();
        if (fusable(head)) {
            Tensor hidden = model.hiddenStates(mb.idsTensor(be), mb.maskTensor(be), null); // [mb, P + t, hidden]
            Tensor flat = Views.reshape(hidden, rows, -1); // [rows, hidden]
            return F.linearCrossEntropy(flat, head.weight().value(), mb.targetsTensor(be), MicroBatch.IGNORE, F.Reduction.SUM);
        }
        Tensor logits = model.forward(mb.idsTensor(be), mb.maskTensor(be), null); // [mb, P + t, vocab]
        Tensor flat = Views.reshape(logits, rows, -1);
        return F.crossEntropy(flat, mb.targetsTensor(be), MicroBatch.IGNORE, F.Reduction.SUM);
    }

    /**
     * Whether {@code head}'s forward is {@code x W^T} alone with W frozen: a dense bias-free
     * {@link Linear} with no adapter (LoRA on lm_head adds to its output) and no weight source (a
     * 4-bit base), outside autocast, whose casts the fused op does not reproduce. A trained head
     * (full fine-tuning) keeps the logits path: fused, its weight gradient [vocab, hidden] would be
     * held from the forward to the end of backward, beside the gradient it is added to, which takes
     * back much of what the fusion saves.
     */
    static boolean fusable(LinearLayer head) {
        return head != null && head.getClass() == Linear.class && head.adapters().isEmpty() && head.weightSource() == null
                && !head.fanInFanOut() && head.bias() == null && !head.weight().trainable() && Autocast.dtype() == null;
    }

    /** Mean NLL per target token over {@code data} in batches of {@code batch}, in eval mode, without gradients. */
    public static double meanNll(CausalLM model, Backend be, List<Example> data, int batch) {
        return totals(model, be, data, batch)[0];
    }

    /** {mean NLL per target token, target tokens}. */
    public static double[] totals(CausalLM model, Backend be, List<Example> data, int batch) {
        Module module = model.module();
        boolean was = module.isTraining();
        module.setTraining(false);
        double sum = 0;
        long count = 0;
        try (GradMode.Region ng = GradMode.noGrad()) {
            for (int i = 0; i < data.size(); i += batch) {
                MicroBatch mb = MicroBatch.of(data.subList(i, Math.min(data.size(), i + batch)), model.hooks().virtualTokenCount());
                if (mb.targetCount() == 0) {
                    continue;
                }
                try (Scope e = Scope.open("eval")) {
                    sum += Tensors.item(nllSum(model, mb, be));
                    count += mb.targetCount();
                }
            }
        } finally {
            module.setTraining(was);
        }
        return new double[] {count == 0 ? Double.NaN : sum / count, count};
    }
}
