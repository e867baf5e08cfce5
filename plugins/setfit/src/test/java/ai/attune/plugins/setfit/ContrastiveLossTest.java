package ai.attune.plugins.setfit;

import ai.attune.api.autograd.Autograd;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;
import ai.attune.kernels.jvm.JvmBackend;
import org.junit.jupiter.api.Test;

import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** The body losses against plain-double loops written from their definitions, and their gradients against finite differences. */
class ContrastiveLossTest {
    private static final JvmBackend BE = new JvmBackend();
    /** Four 3-d embeddings, labels 0 0 1 1. */
    private static final double[] E = {1.0, 0.2, -0.3, 0.8, 0.5, 0.1, -0.4, 1.0, 0.6, 0.1, 0.9, -0.7};
    private static final int[] LABELS = {0, 0, 1, 1};

    private static double[] row(double[] e, int i) {
        return new double[] {e[3 * i], e[3 * i + 1], e[3 * i + 2]};
    }

    private static double cos(double[] a, double[] b) {
        double d = 0, na = 0, nb = 0;
        for (int k = 0; k < a.length; k++) {
            d += a[k] * b[k];
            na += a[k] * a[k];
            nb += b[k] * b[k];
        }
        return d / (Math.sqrt(na) * Math.sqrt(nb));
    }

    private static double euclid(double[] a, double[] b) {
        double s = 0;
        for (int k = 0; k < a.length; k++) {
            s += (a[k] - b[k]) * (a[k] - b[k]);
        }
        return Math.sqrt(s);
    }

    private static double distance(TripletDistance metric, double[] e, int i, int j) {
        return metric == TripletDistance.COSINE ? 1 - cos(row(e, i), row(e, j)) : euclid(row(e, i), row(e, j));
    }

    private static double value(Function<Tensor, Tensor> loss, double[] e) {
        try (Scope s = Scope.open("loss")) {
            return Tensors.item(loss.apply(Tensors.of(BE, DType.F64, e, 4, 3)));
        }
    }

    private static void checkGradient(Function<Tensor, Tensor> loss) {
        double[] analytic;
        try (Scope s = Scope.open("grad")) {
            Tensor x = Tensors.of(BE, DType.F64, E, 4, 3).requiresGrad(true);
            Autograd.backward(loss.apply(x));
            analytic = Tensors.toDoubles(x.grad());
        }
        double h = 1e-6;
        for (int i = 0; i < E.length; i++) {
            double[] up = E.clone();
            double[] down = E.clone();
            up[i] += h;
            down[i] -= h;
            assertEquals((value(loss, up) - value(loss, down)) / (2 * h), analytic[i], 1e-7, "d/de[" + i + "]");
        }
    }

    @Test
    void multipleNegativesRankingIsCrossEntropyOverScaledCosines() {
        // anchors rows 0, 1; positives rows 2, 3: loss = mean_i (logsumexp_j s_ij - s_ii), s = 20 cos.
        double expected = 0;
        for (int i = 0; i < 2; i++) {
            double[] s = new double[2];
            for (int j = 0; j < 2; j++) {
                s[j] = 20 * cos(row(E, i), row(E, 2 + j));
            }
            double lse = Math.max(s[0], s[1]) + Math.log(Math.exp(s[0] - Math.max(s[0], s[1])) + Math.exp(s[1] - Math.max(s[0], s[1])));
            expected += (lse - s[i]) / 2;
        }
        assertEquals(expected, value(MultipleNegativesRankingLoss::lossOfStacked, E), 1e-12);
        checkGradient(MultipleNegativesRankingLoss::lossOfStacked);
    }

    @Test
    void batchHardTakesTheFarthestPositiveAndTheNearestNegative() {
        for (TripletDistance metric : TripletDistance.values()) {
            double expected = 0;
            for (int a = 0; a < 4; a++) {
                double hardestPositive = 0;
                double hardestNegative = Double.MAX_VALUE;
                for (int j = 0; j < 4; j++) {
                    double d = distance(metric, E, a, j);
                    if (j != a && LABELS[j] == LABELS[a]) {
                        hardestPositive = Math.max(hardestPositive, d);
                    } else if (LABELS[j] != LABELS[a]) {
                        hardestNegative = Math.min(hardestNegative, d);
                    }
                }
                expected += Math.max(0, hardestPositive - hardestNegative + 0.25) / 4;
            }
            assertEquals(expected, value(e -> BatchTripletLoss.batchHard(e, LABELS, metric, 0.25), E), 1e-12, metric.name());
            checkGradient(e -> BatchTripletLoss.batchHard(e, LABELS, metric, 0.25));
        }
    }

    @Test
    void batchAllAveragesThePositiveTriplets() {
        for (TripletDistance metric : TripletDistance.values()) {
            double sum = 0;
            int positive = 0;
            for (int a = 0; a < 4; a++) {
                for (int p = 0; p < 4; p++) {
                    for (int n = 0; n < 4; n++) {
                        if (a != p && LABELS[a] == LABELS[p] && LABELS[a] != LABELS[n]) {
                            double l = distance(metric, E, a, p) - distance(metric, E, a, n) + 0.5;
                            if (l > 1e-16) {
                                sum += l;
                                positive++;
                            }
                        }
                    }
                }
            }
            assertEquals(sum / positive, value(e -> BatchTripletLoss.batchAll(e, LABELS, metric, 0.5), E), 1e-12, metric.name());
            checkGradient(e -> BatchTripletLoss.batchAll(e, LABELS, metric, 0.5));
        }
    }

    @Test
    void cosineSimilarityLossMatchesAHandComputedValueAndGradient() {
        try (Scope s = Scope.open("loss")) {
            // u1 = (1, 0), v1 = (1, 1): cos = 1/sqrt(2), target 1. u2 = (0, 2), v2 = (3, 0): cos = 0, target 0.
            Tensor u = Tensors.of(BE, DType.F64, new double[] {1, 0, 0, 2}, 2, 2).requiresGrad(true);
            Tensor v = Tensors.of(BE, DType.F64, new double[] {1, 1, 3, 0}, 2, 2);
            Tensor loss = CosineSimilarityLoss.loss(u, v, Tensors.of(BE, DType.F64, new double[] {1, 0}, 2));
            double c = 1 / Math.sqrt(2);
            assertEquals((c - 1) * (c - 1) / 2, Tensors.item(loss), 1e-15);
            Autograd.backward(loss);
            // d/du1 of (cos - 1)^2 / 2 = (cos - 1) * (v/|u||v| - cos * u/|u|^2) = (c - 1) * ((1/sqrt2, 1/sqrt2) - (c, 0)); d/du2 = 0
            assertArrayEquals(new double[] {0, (c - 1) * c, 0, 0}, Tensors.toDoubles(u.grad()), 1e-15);
        }
    }
}
