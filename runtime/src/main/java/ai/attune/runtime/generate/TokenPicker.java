package ai.attune.runtime.generate;

import java.util.Arrays;
import java.util.SplittableRandom;

/** Picks tokens from logits under a {@link Sampling}, with its own seeded random stream. */
final class TokenPicker {
    private final Sampling s;
    private final SplittableRandom random;

    TokenPicker(Sampling s) {
        this.s = s;
        this.random = new SplittableRandom(s.seed());
    }

    int pick(double[] logits) {
        if (s.greedy()) {
            return argmax(logits);
        }
        double[] z = new double[logits.length];
        for (int i = 0; i < z.length; i++) {
            z[i] = logits[i] / s.temperature();
        }
        if (s.topK() > 0 && s.topK() < z.length) {
            // Keep every token scoring at least the k-th best (ties kept), as TopKLogitsWarper.
            double[] sorted = z.clone();
            Arrays.sort(sorted);
            double kth = sorted[sorted.length - s.topK()];
            for (int i = 0; i < z.length; i++) {
                if (z[i] < kth) {
                    z[i] = Double.NEGATIVE_INFINITY;
                }
            }
        }
        double[] p = softmax(z);
        if (s.topP() < 1.0) {
            // Drop the least likely tokens whose total mass is at most 1 - top_p, keeping at least one (TopPLogitsWarper).
            Integer[] order = new Integer[p.length];
            for (int i = 0; i < order.length; i++) {
                order[i] = i;
            }
            Arrays.sort(order, (a, b) -> Double.compare(p[a], p[b]));
            double cum = 0;
            for (int i = 0; i < order.length - 1; i++) {
                cum += p[order[i]];
                if (cum <= 1 - s.topP()) {
                    z[order[i]] = Double.NEGATIVE_INFINITY;
                }
            }
            double[] q = softmax(z);
            System.arraycopy(q, 0, p, 0, p.length);
        }
        double u = random.nextDouble();
        double acc = 0;
        int last = 0;
        for (int i = 0; i < p.length; i++) {
            if (p[i] > 0) {
                acc += p[i];
                last = i;
                if (u < acc) {
                    return i;
                }
            }
        }
        return last;
    }

    static int argmax(double[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) {
            if (v[i] > v[best]) {
                best = i;
            }
        }
        return best;
    }

    static double[] softmax(double[] z) {
        double max = Double.NEGATIVE_INFINITY;
        for (double v : z) {
            max = Math.max(max, v);
        }
        double sum = 0;
        double[] p = new double[z.length];
        for (int i = 0; i < z.length; i++) {
            p[i] = Math.exp(z[i] - max);
            sum += p[i];
        }
        for (int i = 0; i < z.length; i++) {
            p[i] /= sum;
        }
        return p;
    }
}
