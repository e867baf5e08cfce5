package ai.attune.plugins.setfit;

/**
 * Limited-memory BFGS (Nocedal 1980; Nocedal and Wright, "Numerical Optimization", algorithm 7.4)
 * with a backtracking Armijo line search, for the small smooth convex problems of a classifier
 * head. Plain double arrays: the head is a few thousand parameters, far below where tensors pay.
 */
final class Lbfgs {
    /** f(x), writing the gradient into {@code grad}. */
    interface Objective {
        double valueAndGradient(double[] x, double[] grad);
    }

    /** Where the minimiser stopped: the value, the gradient's max-norm and the iterations taken. */
    record Result(double value, double gradientNorm, int iterations) {}

    private static final int MEMORY = 10;
    private static final double ARMIJO = 1e-4;

    private Lbfgs() {}

    /**
     * Minimises {@code f} from {@code x} (updated in place) until the gradient's max-norm is below
     * {@code gtol} or no step decreases f any more (the floating-point floor), at most
     * {@code maxIterations} iterations.
     */
    static Result minimize(Objective f, double[] x, double gtol, int maxIterations) {
        int n = x.length;
        double[][] s = new double[MEMORY][];
        double[][] y = new double[MEMORY][];
        double[] rho = new double[MEMORY];
        int stored = 0;
        int newest = -1;
        double[] g = new double[n];
        double fx = f.valueAndGradient(x, g);
        double[] d = new double[n];
        double[] xNew = new double[n];
        double[] gNew = new double[n];
        double[] alpha = new double[MEMORY];
        int it = 0;
        for (; it < maxIterations && maxAbs(g) > gtol; it++) {
            // Two-loop recursion: d = -H g with H the L-BFGS inverse-Hessian estimate.
            for (int i = 0; i < n; i++) {
                d[i] = -g[i];
            }
            for (int k = 0; k < stored; k++) {
                int j = Math.floorMod(newest - k, MEMORY);
                alpha[j] = rho[j] * dot(s[j], d);
                axpy(-alpha[j], y[j], d);
            }
            double gamma = stored == 0 ? 1.0 / Math.max(1.0, Math.sqrt(dot(g, g))) : dot(s[newest], y[newest]) / dot(y[newest], y[newest]);
            for (int i = 0; i < n; i++) {
                d[i] *= gamma;
            }
            for (int k = stored - 1; k >= 0; k--) {
                int j = Math.floorMod(newest - k, MEMORY);
                double beta = rho[j] * dot(y[j], d);
                axpy(alpha[j] - beta, s[j], d);
            }
            double slope = dot(g, d);
            if (!(slope < 0)) { // not a descent direction (rounding): restart from steepest descent
                stored = 0;
                for (int i = 0; i < n; i++) {
                    d[i] = -g[i];
                }
                slope = dot(g, d);
            }
            double step = 1.0;
            double fNew = Double.NaN;
            boolean accepted = false;
            for (int tries = 0; tries < 60; tries++) {
                for (int i = 0; i < n; i++) {
                    xNew[i] = x[i] + step * d[i];
                }
                fNew = f.valueAndGradient(xNew, gNew);
                if (fNew <= fx + ARMIJO * step * slope) {
                    accepted = true;
                    break;
                }
                step *= 0.5;
            }
            if (!accepted || fNew >= fx && maxAbs(gNew) >= maxAbs(g)) {
                break; // at the floating-point floor: no representable step improves f
            }
            newest = (newest + 1) % MEMORY;
            s[newest] = new double[n];
            y[newest] = new double[n];
            for (int i = 0; i < n; i++) {
                s[newest][i] = xNew[i] - x[i];
                y[newest][i] = gNew[i] - g[i];
            }
            double sy = dot(s[newest], y[newest]);
            if (sy > 1e-300) {
                rho[newest] = 1.0 / sy;
                stored = Math.min(stored + 1, MEMORY);
            } else { // curvature pair carries no information; drop it
                newest = Math.floorMod(newest - 1, MEMORY);
            }
            System.arraycopy(xNew, 0, x, 0, n);
            System.arraycopy(gNew, 0, g, 0, n);
            fx = fNew;
        }
        return new Result(fx, maxAbs(g), it);
    }

    static double dot(double[] a, double[] b) {
        double sum = 0;
        for (int i = 0; i < a.length; i++) {
            sum += a[i] * b[i];
        }
        return sum;
    }

    private static void axpy(double a, double[] x, double[] y) {
        for (int i = 0; i < x.length; i++) {
            y[i] += a * x[i];
        }
    }

    private static double maxAbs(double[] v) {
        double m = 0;
        for (double e : v) {
            m = Math.max(m, Math.abs(e));
        }
        return m;
    }
}
