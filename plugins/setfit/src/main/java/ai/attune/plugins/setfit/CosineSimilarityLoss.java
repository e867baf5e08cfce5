package ai.attune.plugins.setfit;

import ai.attune.api.autograd.Ops;
import ai.attune.api.autograd.Views;
import ai.attune.api.tensor.ScalarOp;
import ai.attune.api.tensor.Tensor;

/**
 * sentence-transformers' {@code CosineSimilarityLoss}: {@code MSE(cos(u, v), target)}, the mean
 * over the batch of the squared gap between the two embeddings' cosine and the pair's label.
 * Both sides come from one model (a siamese network with shared weights), so the gradient of both
 * towers lands in the same parameters.
 */
public final class CosineSimilarityLoss {
    /** {@code torch.cosine_similarity}'s eps on the product of the norms. */
    private static final double EPS = 1e-8;

    private CosineSimilarityLoss() {}

    /** u and v [batch, dim], targets [batch]; the loss is a scalar []. */
    public static Tensor loss(Tensor u, Tensor v, Tensor targets) {
        Tensor dot = Ops.sum(Ops.mul(u, v), new int[] {1}, false); // [batch]
        Tensor nu = Ops.sum(Ops.mul(u, u), new int[] {1}, false);  // [batch]
        Tensor nv = Ops.sum(Ops.mul(v, v), new int[] {1}, false);  // [batch]
        Tensor denom = Ops.scalar(ScalarOp.MAXIMUM, Ops.sqrt(Ops.mul(nu, nv)), EPS);
        Tensor cos = Ops.div(dot, denom); // [batch]
        Tensor gap = Ops.sub(cos, targets);
        return Ops.mean(Ops.mul(gap, gap));
    }

    /**
     * The loss for pairs embedded in one forward: {@code both} [2 * batch, dim] holds the first
     * sentences, then the second ones.
     */
    public static Tensor lossOfStacked(Tensor both, Tensor targets) {
        int batch = both.size(0) / 2;
        return loss(Views.slice(both, 0, 0, batch), Views.slice(both, 0, batch, 2 * batch), targets);
    }
}
