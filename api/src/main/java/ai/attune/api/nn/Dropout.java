package ai.attune.api.nn;

import ai.attune.api.autograd.F;
import ai.attune.api.tensor.Tensor;

/**
 * {@code torch.nn.Dropout(p)}: in training mode, zeroes each element with probability p and scales
 * the rest by 1/(1-p), with a mask drawn from the next of the module tree's dropout seeds; the
 * identity in eval mode or when the tree has no seeds.
 */
public final class Dropout extends Module {
    private final double p;

    public Dropout(double p) {
        if (!(p >= 0 && p <= 1)) {
            throw new IllegalArgumentException("dropout probability must be in [0, 1], got " + p);
        }
        this.p = p;
    }

    public double p() {
        return p;
    }

    public Tensor forward(Tensor x) {
        DropoutSeeds seeds = dropoutSeeds();
        if (!isTraining() || p == 0 || seeds == null) {
            return x;
        }
        return F.dropout(x, p, seeds.next(), true);
    }
}
