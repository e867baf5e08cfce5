package ai.attune.plugins.setfit;

import java.util.Arrays;
import java.util.List;

/**
 * SetFit's default head: scikit-learn's {@code LogisticRegression()} with its defaults, L2 penalty
 * with {@code C = 1.0}, an unpenalised intercept, the lbfgs solver; binary (one sigmoid row) for
 * two classes and multinomial (softmax over one row per class) for more. It minimises
 * <pre>  C * sum_i -log p(y_i | x_i) + ||W||^2 / 2</pre>
 * which is strictly convex, so L-BFGS run to a tight tolerance reaches the unique optimum
 * sklearn's solver approaches. Classes are sorted by name, as sklearn's {@code classes_}.
 *
 * @param classes   the class names, sorted; index k is class k
 * @param coef      [rows][dim]: one row for two classes (the logit of {@code classes[1]}), else one per class
 * @param intercept [rows]
 */
public record LogisticRegressionHead(List<String> classes, double[][] coef, double[] intercept) implements Head {
    /** sklearn's default inverse regularisation strength. */
    public static final double DEFAULT_C = 1.0;
    /** Gradient max-norm at which the solve stops: far tighter than sklearn's tol=1e-4, so results do not depend on the path. */
    static final double GTOL = 1e-9;

    public LogisticRegressionHead {
        classes = List.copyOf(classes);
        if (classes.size() < 2) {
            throw new IllegalArgumentException("a classifier needs at least 2 classes, got " + classes);
        }
        int rows = classes.size() == 2 ? 1 : classes.size();
        if (coef.length != rows || intercept.length != rows) {
            throw new IllegalArgumentException(classes.size() + " classes need " + rows + " coefficient rows, got " + coef.length + " and " + intercept.length);
        }
    }

    /** Fits the head on embeddings {@code x} [n][dim] with class indices {@code y} into {@code classes}. */
    public static LogisticRegressionHead fit(double[][] x, int[] y, List<String> classes, double c) {
        if (x.length != y.length || x.length == 0) {
            throw new IllegalArgumentException("need one label per embedding and at least one, got " + x.length + " and " + y.length);
        }
        int dim = x[0].length;
        int rows = classes.size() == 2 ? 1 : classes.size();
        double[] theta = new double[rows * (dim + 1)]; // row r: coef at [r*(dim+1), +dim), intercept at r*(dim+1)+dim
        Lbfgs.Objective objective = (t, grad) -> rows == 1 ? binaryLoss(t, grad, x, y, c) : multinomialLoss(t, grad, x, y, rows, c);
        Lbfgs.minimize(objective, theta, GTOL, 10_000);
        double[][] w = new double[rows][];
        double[] b = new double[rows];
        for (int r = 0; r < rows; r++) {
            w[r] = Arrays.copyOfRange(theta, r * (dim + 1), r * (dim + 1) + dim);
            b[r] = theta[r * (dim + 1) + dim];
        }
        return new LogisticRegressionHead(classes, w, b);
    }

    /** {@code predict_proba}: one probability per class, in {@link #classes} order. */
    @Override
    public double[] probabilities(double[] e) {
        if (coef.length == 1) {
            double p = sigmoid(Lbfgs.dot(coef[0], e) + intercept[0]);
            return new double[] {1 - p, p};
        }
        double[] z = new double[coef.length];
        for (int r = 0; r < z.length; r++) {
            z[r] = Lbfgs.dot(coef[r], e) + intercept[r];
        }
        double lse = logSumExp(z);
        for (int r = 0; r < z.length; r++) {
            z[r] = Math.exp(z[r] - lse);
        }
        return z;
    }

    /** The index of the most probable class (the first on a tie, as numpy's argmax). */
    public int predict(double[] e) {
        double[] p = probabilities(e);
        int best = 0;
        for (int k = 1; k < p.length; k++) {
            if (p[k] > p[best]) {
                best = k;
            }
        }
        return best;
    }

    public String predictLabel(double[] e) {
        return classes.get(predict(e));
    }

    /** C * sum softplus(-s_i z_i) + |w|^2/2 with s = +-1 and z = w.x + b. */
    static double binaryLoss(double[] t, double[] grad, double[][] x, int[] y, double c) {
        int dim = x[0].length;
        double loss = 0;
        for (int j = 0; j < dim; j++) {
            loss += 0.5 * t[j] * t[j];
            grad[j] = t[j];
        }
        grad[dim] = 0;
        for (int i = 0; i < x.length; i++) {
            double z = t[dim];
            for (int j = 0; j < dim; j++) {
                z += t[j] * x[i][j];
            }
            double sign = y[i] == 1 ? 1 : -1;
            loss += c * softplus(-sign * z);
            double dz = c * (sigmoid(z) - (y[i] == 1 ? 1 : 0)); // d loss / d z
            for (int j = 0; j < dim; j++) {
                grad[j] += dz * x[i][j];
            }
            grad[dim] += dz;
        }
        return loss;
    }

    /** C * sum (logsumexp(z_i) - z_i[y_i]) + |W|^2/2 with z_i = W x_i + b. */
    static double multinomialLoss(double[] t, double[] grad, double[][] x, int[] y, int k, double c) {
        int dim = x[0].length;
        int stride = dim + 1;
        double loss = 0;
        for (int r = 0; r < k; r++) {
            for (int j = 0; j < dim; j++) {
                double w = t[r * stride + j];
                loss += 0.5 * w * w;
                grad[r * stride + j] = w;
            }
            grad[r * stride + dim] = 0;
        }
        double[] z = new double[k];
        for (int i = 0; i < x.length; i++) {
            for (int r = 0; r < k; r++) {
                double v = t[r * stride + dim];
                for (int j = 0; j < dim; j++) {
                    v += t[r * stride + j] * x[i][j];
                }
                z[r] = v;
            }
            double lse = logSumExp(z);
            loss += c * (lse - z[y[i]]);
            for (int r = 0; r < k; r++) {
                double dz = c * (Math.exp(z[r] - lse) - (r == y[i] ? 1 : 0));
                for (int j = 0; j < dim; j++) {
                    grad[r * stride + j] += dz * x[i][j];
                }
                grad[r * stride + dim] += dz;
            }
        }
        return loss;
    }

    static double sigmoid(double z) {
        return z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
    }

    /** log(1 + e^z) without overflow. */
    static double softplus(double z) {
        return z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z));
    }

    static double logSumExp(double[] z) {
        double m = Double.NEGATIVE_INFINITY;
        for (double v : z) {
            m = Math.max(m, v);
        }
        double s = 0;
        for (double v : z) {
            s += Math.exp(v - m);
        }
        return m + Math.log(s);
    }
}
