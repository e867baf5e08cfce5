package ai.attune.plugins.setfit;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

class LogisticRegressionHeadTest {
    /**
     * x = {-1, +1}, labels {a, b}, C = 1. By symmetry the intercept is 0, and the objective
     * w^2/2 + 2 log(1 + e^-w) is stationary where w = 2 / (1 + e^w). Solved by bisection here
     * (and by scipy's brentq: 0.6748316143423994).
     */
    @Test
    void binaryOneDimensionalCaseMatchesTheAnalyticOptimum() {
        double lo = 0;
        double hi = 2;
        for (int i = 0; i < 200; i++) {
            double mid = (lo + hi) / 2;
            if (mid - 2 / (1 + Math.exp(mid)) > 0) {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        assertEquals(0.6748316143423994, lo, 1e-14);
        LogisticRegressionHead head = LogisticRegressionHead.fit(new double[][] {{-1}, {1}}, new int[] {0, 1}, List.of("a", "b"), 1.0);
        assertEquals(1, head.coef().length, "two classes: one sigmoid row, as sklearn");
        assertEquals(lo, head.coef()[0][0], 1e-9);
        assertEquals(0, head.intercept()[0], 1e-9);
        double p = 1 / (1 + Math.exp(-lo));
        assertArrayEquals(new double[] {1 - p, p}, head.probabilities(new double[] {1}), 1e-9);
        assertEquals("a", head.predictLabel(new double[] {-0.3}));
    }

    /**
     * Three classes in 2-D, multinomial. Golden from Newton's method in numpy (exact Hessian,
     * minimum-norm steps, 50 iterations, final gradient max-norm 2e-16) on
     * C * sum(logsumexp(Z) - Z[y]) + |W|^2 / 2, sklearn's objective. The intercepts are free up to a
     * common shift; from zeros every solver here keeps their sum at 0. (scipy's BFGS with gtol
     * 1e-12 stops 2e-7 short of this in the intercepts.)
     */
    @Test
    void multinomialMatchesAnIndependentSolver() {
        double[][] x = {{0.0, 1.0}, {1.0, 0.5}, {0.2, -1.0}, {-1.0, 0.3}, {0.5, 0.5}, {-0.4, -0.8}};
        int[] y = {0, 1, 2, 0, 1, 2};
        LogisticRegressionHead head = LogisticRegressionHead.fit(x, y, List.of("a", "b", "c"), 1.0);
        double[][] w = {{-0.6526949529142735, 0.6281684433845298}, {0.7528392281742927, 0.3356049600968046},
                {-0.10014427526001922, -0.9637734034813344}};
        double[] b = {0.01345139099444929, -0.05011658754072543, 0.03666519654627732};
        for (int k = 0; k < 3; k++) {
            assertArrayEquals(w[k], head.coef()[k], 1e-9);
        }
        assertArrayEquals(b, head.intercept(), 1e-9);
        double[] theta = new double[9];
        for (int k = 0; k < 3; k++) {
            theta[k * 3] = head.coef()[k][0];
            theta[k * 3 + 1] = head.coef()[k][1];
            theta[k * 3 + 2] = head.intercept()[k];
        }
        assertEquals(4.280874706548825, LogisticRegressionHead.multinomialLoss(theta, new double[9], x, y, 3, 1.0), 1e-12);
    }

    /** The analytic gradients against central finite differences. */
    @Test
    void gradientsMatchFiniteDifferences() {
        double[][] x = {{0.3, -1.2}, {1.5, 0.1}, {-0.7, 0.4}, {0.2, 0.9}};
        int[] y = {0, 1, 2, 1};
        double[] theta = {0.1, -0.2, 0.3, 0.4, 0.5, -0.6, -0.7, 0.8, 0.05};
        double[] grad = new double[9];
        LogisticRegressionHead.multinomialLoss(theta, grad, x, y, 3, 0.7);
        double[] g2 = new double[3];
        double[] t2 = {0.4, -0.1, 0.2};
        LogisticRegressionHead.binaryLoss(t2, g2, x, new int[] {0, 1, 1, 0}, 0.7);
        double h = 1e-6;
        for (int i = 0; i < theta.length; i++) {
            double[] up = theta.clone();
            double[] down = theta.clone();
            up[i] += h;
            down[i] -= h;
            double fd = (LogisticRegressionHead.multinomialLoss(up, new double[9], x, y, 3, 0.7)
                    - LogisticRegressionHead.multinomialLoss(down, new double[9], x, y, 3, 0.7)) / (2 * h);
            assertEquals(fd, grad[i], 1e-7);
        }
        for (int i = 0; i < t2.length; i++) {
            double[] up = t2.clone();
            double[] down = t2.clone();
            up[i] += h;
            down[i] -= h;
            double fd = (LogisticRegressionHead.binaryLoss(up, new double[3], x, new int[] {0, 1, 1, 0}, 0.7)
                    - LogisticRegressionHead.binaryLoss(down, new double[3], x, new int[] {0, 1, 1, 0}, 0.7)) / (2 * h);
            assertEquals(fd, g2[i], 1e-7);
        }
    }
}
