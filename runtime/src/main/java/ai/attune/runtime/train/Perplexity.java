package ai.attune.runtime.train;

import ai.attune.api.autograd.F;
import ai.attune.api.autograd.GradMode;
import ai.attune.api.autograd.Views;
import ai.attune.api.data.Example;
import ai.attune.api.model.CausalLM;
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

    /** Summed NLL of one micro-batch's target tokens (a scalar that autograd can differentiate). */
    static Tensor nllSum(CausalLM model, MicroBatch mb, Backend be) {
        Tensor logits = model.forward(mb.idsTensor(be), mb.maskTensor(be), null); // [mb, P + t, vocab]
        Tensor flat = Views.reshape(logits, mb.rows() * (mb.virtual() + mb.length()), -1);
        return F.crossEntropy(flat, mb.targetsTensor(be), MicroBatch.IGNORE, F.Reduction.SUM);
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
