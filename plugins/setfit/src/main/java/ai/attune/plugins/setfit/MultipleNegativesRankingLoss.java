package ai.attune.plugins.setfit;

import ai.attune.api.autograd.F;
import ai.attune.api.autograd.Ops;
import ai.attune.api.autograd.Views;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;

/**
 * sentence-transformers' {@code MultipleNegativesRankingLoss} (InfoNCE with in-batch negatives):
 * each anchor's positive must out-score every other positive in the batch, by cross-entropy over
 * {@code scale * cos_sim(anchors, positives)} with the diagonal as the targets.
 */
public final class MultipleNegativesRankingLoss {
    /** sentence-transformers' default scale (an inverse temperature of 0.05). */
    public static final double SCALE = 20.0;

    private MultipleNegativesRankingLoss() {}

    /** anchors and positives [batch, dim]; the loss is a scalar []. */
    public static Tensor loss(Tensor anchors, Tensor positives, double scale) {
        int batch = anchors.size(0);
        Tensor scores = Ops.mulScalar(TripletDistance.cosineSimilarity(anchors, positives), scale); // [batch, batch]
        long[] diagonal = new long[batch];
        for (int i = 0; i < batch; i++) {
            diagonal[i] = i;
        }
        return F.crossEntropy(scores, Tensors.ofLongs(anchors.backend(), diagonal, batch), -100, F.Reduction.MEAN);
    }

    /** The loss for pairs embedded in one forward: {@code both} [2 * batch, dim] holds the anchors, then the positives. */
    public static Tensor lossOfStacked(Tensor both) {
        int batch = both.size(0) / 2;
        return loss(Views.slice(both, 0, 0, batch), Views.slice(both, 0, batch, 2 * batch), SCALE);
    }
}
