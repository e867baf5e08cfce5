package ai.attune.kernels.jvm;

/**
 * The error function to double precision. Java has no {@code Math.erf}; GELU needs it. Uses the
 * Maclaurin series near zero and a continued fraction for erfc in the tails (both converge to
 * full double accuracy on their ranges, see Abramowitz & Stegun 7.1.5 and 7.1.14).
 */
final class Erf {
    private Erf() {}

    static double erf(double x) {
        if (Double.isNaN(x)) {
            return x;
        }
        double ax = Math.abs(x);
        if (ax < 2.0) {
            // erf(x) = 2/sqrt(pi) * sum_n (-1)^n x^(2n+1) / (n! (2n+1))
            double term = ax;
            double sum = ax;
            double x2 = ax * ax;
            for (int n = 1; n < 200; n++) {
                term *= -x2 / n;
                double add = term / (2 * n + 1);
                sum += add;
                if (Math.abs(add) < 1e-17 * Math.abs(sum)) {
                    break;
                }
            }
            double r = 2.0 / Math.sqrt(Math.PI) * sum;
            return Math.copySign(r, x);
        }
        if (ax > 6.5) {
            return Math.copySign(1.0, x);
        }
        return Math.copySign(1.0 - erfcTail(ax), x);
    }

    /** erfc(x) for x >= 2 by Lentz's continued fraction: erfc x = exp(-x^2)/sqrt(pi) * 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))). */
    private static double erfcTail(double x) {
        double tiny = 1e-300;
        double f = x;
        double c = x;
        double d = 0;
        for (int n = 1; n < 300; n++) {
            double an = n / 2.0;
            d = x + an * d;
            d = Math.abs(d) < tiny ? tiny : d;
            c = x + an / c;
            c = Math.abs(c) < tiny ? tiny : c;
            d = 1.0 / d;
            double delta = c * d;
            f *= delta;
            if (Math.abs(delta - 1.0) < 1e-16) {
                break;
            }
        }
        return Math.exp(-x * x) / Math.sqrt(Math.PI) / f;
    }
}
