package ai.attune.plugins.setfit;

import ai.attune.api.autograd.F;
import ai.attune.api.autograd.Ops;
import ai.attune.api.autograd.Views;
import ai.attune.api.tensor.ScalarOp;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;

import java.util.Arrays;

/** sentence-transformers' {@code BatchHardTripletLossDistanceFunction}: all pairwise distances of a batch. */
public enum TripletDistance {
    /** {@code 1 - cos_sim(e, e)}. */
    COSINE("cosine_distance"),
    /** The Euclidean distance, with the diagonal's zero kept out of the square root's gradient. */
    EUCLIDEAN("euclidean_distance");

    /** {@code F.normalize}'s eps: norms below it are clamped. */
    private static final double NORMALIZE_EPS = 1e-12;

    private final String key;

    TripletDistance(String key) {
        this.key = key;
    }

    public static TripletDistance of(String key) {
        for (TripletDistance d : values()) {
            if (d.key.equals(key)) {
                return d;
            }
        }
        throw new IllegalArgumentException("unknown distance_metric '" + key + "'; known: "
                + Arrays.stream(values()).map(d -> d.key).toList());
    }

    /** Distances [n, n] between the rows of {@code e} [n, dim]. */
    public Tensor pairwise(Tensor e) {
        return switch (this) {
            case COSINE -> Ops.scalar(ScalarOp.RSUB, cosineSimilarity(e, e), 1.0);
            case EUCLIDEAN -> euclidean(e);
        };
    }

    /** {@code util.cos_sim}: [a rows, b rows] of cosines, rows normalised with eps 1e-12 on the norm. */
    static Tensor cosineSimilarity(Tensor a, Tensor b) {
        return Ops.matmul(normalize(a), false, normalize(b), true);
    }

    /** {@code F.normalize(x, p=2, dim=1)}. */
    static Tensor normalize(Tensor x) {
        Tensor norm = Ops.sqrt(Ops.sum(Ops.mul(x, x), new int[] {1}, true)); // [n, 1]
        return Ops.div(x, Ops.scalar(ScalarOp.MAXIMUM, norm, NORMALIZE_EPS));
    }

    /**
     * {@code _pairwise_distances(squared=False)}: |a|^2 - 2 a.b + |b|^2, clamped at 0; where it is
     * 0 a 1e-16 is added before the square root (whose gradient at 0 is infinite) and the result
     * masked back to 0.
     */
    private static Tensor euclidean(Tensor e) {
        int n = e.size(0);
        Tensor dot = Ops.matmul(e, false, e, true);                          // [n, n]
        Tensor sq = Ops.sum(Ops.mul(e, e), new int[] {1}, false);              // [n]
        Tensor d = Ops.add(Ops.sub(Views.reshape(sq, 1, n), Ops.mulScalar(dot, 2)), Views.reshape(sq, n, 1));
        d = F.relu(d);
        double[] zero = new double[n * n];
        double[] values = Tensors.toDoubles(d);
        for (int i = 0; i < zero.length; i++) {
            zero[i] = values[i] == 0.0 ? 1.0 : 0.0;
        }
        Tensor mask = Tensors.of(e.backend(), e.dtype(), zero, n, n);
        Tensor root = Ops.sqrt(Ops.add(d, Ops.mulScalar(mask, 1e-16)));
        return Ops.mul(root, Ops.scalar(ScalarOp.RSUB, mask, 1.0));
    }
}
