package ai.attune.plugins.setfit;

import ai.attune.api.autograd.F;
import ai.attune.api.autograd.Ops;
import ai.attune.api.autograd.Views;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;

/**
 * sentence-transformers' margin losses over a batch of labelled embeddings, which mine their
 * triplets (anchor, positive of its label, negative of another) inside the batch:
 * <ul>
 *   <li>{@code BatchHardTripletLoss}: per anchor, the farthest positive against the nearest
 *       negative, {@code mean(relu(d(a, p) - d(a, n) + margin))};</li>
 *   <li>{@code BatchAllTripletLoss}: every valid triplet, the sum of the positive terms divided by
 *       how many are positive.</li>
 * </ul>
 */
public final class BatchTripletLoss {
    private BatchTripletLoss() {}

    /** embeddings [n, dim], one label per row; the loss is a scalar []. */
    public static Tensor batchHard(Tensor embeddings, int[] labels, TripletDistance distance, double margin) {
        int n = labels.length;
        Tensor d = distance.pairwise(embeddings); // [n, n]
        double[] positive = new double[n * n];    // same label, not the anchor itself
        double[] notNegative = new double[n * n]; // 1 where the pair is not a negative
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                positive[i * n + j] = i != j && labels[i] == labels[j] ? 1 : 0;
                notNegative[i * n + j] = labels[i] == labels[j] ? 1 : 0;
            }
        }
        Tensor hardestPositive = Ops.amax(Ops.mul(d, constant(embeddings, positive, n, n)), new int[] {1}, true); // [n, 1]
        // Non-negatives are pushed past the row's largest distance so the minimum picks a negative.
        Tensor rowMax = Ops.amax(d, new int[] {1}, true);                                                           // [n, 1]
        Tensor shifted = Ops.add(d, Ops.mul(rowMax, constant(embeddings, notNegative, n, n)));
        Tensor hardestNegative = Ops.amin(shifted, new int[] {1}, true);                                            // [n, 1]
        return Ops.mean(F.relu(Ops.addScalar(Ops.sub(hardestPositive, hardestNegative), margin)));
    }

    /** embeddings [n, dim], one label per row; the loss is a scalar []. */
    public static Tensor batchAll(Tensor embeddings, int[] labels, TripletDistance distance, double margin) {
        int n = labels.length;
        Tensor d = distance.pairwise(embeddings);                                                        // [n, n]
        Tensor gaps = Ops.addScalar(Ops.sub(Views.reshape(d, n, n, 1), Views.reshape(d, n, 1, n)), margin); // [a, p, neg]
        double[] valid = new double[n * n * n];
        for (int a = 0; a < n; a++) {
            for (int p = 0; p < n; p++) {
                for (int q = 0; q < n; q++) {
                    boolean ok = a != p && a != q && p != q && labels[a] == labels[p] && labels[a] != labels[q];
                    valid[(a * n + p) * n + q] = ok ? 1 : 0;
                }
            }
        }
        Tensor losses = F.relu(Ops.mul(gaps, constant(embeddings, valid, n, n, n)));
        long positive = 0;
        for (double v : Tensors.toDoubles(losses)) {
            if (v > 1e-16) {
                positive++;
            }
        }
        return Ops.mulScalar(Ops.sum(losses), 1.0 / (positive + 1e-16));
    }

    private static Tensor constant(Tensor like, double[] values, int... shape) {
        return Tensors.of(like.backend(), like.dtype(), values, shape);
    }
}
