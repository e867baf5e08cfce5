package ai.attune.kernels.jvm;

import ai.attune.api.tensor.UnaryOp;

/** Scalar definitions of the unary ops and their derivatives, in double, following PyTorch's formulas. */
final class Activations {
    private static final double SQRT_2_OVER_PI = Math.sqrt(2.0 / Math.PI);
    private static final double INV_SQRT_2 = 1.0 / Math.sqrt(2.0);
    private static final double INV_SQRT_2PI = 1.0 / Math.sqrt(2.0 * Math.PI);

    private Activations() {}

    static double forward(UnaryOp op, double x) {
        return switch (op) {
            case NEG -> -x;
            case ABS -> Math.abs(x);
            case EXP -> Math.exp(x);
            case LOG -> Math.log(x);
            case SQRT -> Math.sqrt(x);
            case RSQRT -> 1.0 / Math.sqrt(x);
            case SQUARE -> x * x;
            case RECIPROCAL -> 1.0 / x;
            case SIN -> Math.sin(x);
            case COS -> Math.cos(x);
            case TANH -> Math.tanh(x);
            case SIGMOID -> sigmoid(x);
            case RELU -> x > 0 ? x : (Double.isNaN(x) ? x : 0.0);
            case SILU -> x * sigmoid(x);
            case GELU_ERF -> 0.5 * x * (1.0 + Erf.erf(x * INV_SQRT_2));
            case GELU_TANH -> 0.5 * x * (1.0 + Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)));
        };
    }

    /** d f(x) / dx. ReLU's derivative at 0 is 0, as in PyTorch; ABS's is sign(x) with sign(0) = 0. */
    static double derivative(UnaryOp op, double x) {
        return switch (op) {
            case NEG -> -1.0;
            case ABS -> Math.signum(x);
            case EXP -> Math.exp(x);
            case LOG -> 1.0 / x;
            case SQRT -> 0.5 / Math.sqrt(x);
            case RSQRT -> -0.5 / (x * Math.sqrt(x));
            case SQUARE -> 2.0 * x;
            case RECIPROCAL -> -1.0 / (x * x);
            case SIN -> Math.cos(x);
            case COS -> -Math.sin(x);
            case TANH -> {
                double t = Math.tanh(x);
                yield 1.0 - t * t;
            }
            case SIGMOID -> {
                double s = sigmoid(x);
                yield s * (1.0 - s);
            }
            case RELU -> x > 0 ? 1.0 : 0.0;
            case SILU -> {
                double s = sigmoid(x);
                yield s * (1.0 + x * (1.0 - s));
            }
            case GELU_ERF -> 0.5 * (1.0 + Erf.erf(x * INV_SQRT_2)) + x * INV_SQRT_2PI * Math.exp(-0.5 * x * x);
            case GELU_TANH -> {
                double inner = SQRT_2_OVER_PI * (x + 0.044715 * x * x * x);
                double t = Math.tanh(inner);
                double dInner = SQRT_2_OVER_PI * (1.0 + 3.0 * 0.044715 * x * x);
                yield 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * dInner;
            }
        };
    }

    static double sigmoid(double x) {
        return x >= 0 ? 1.0 / (1.0 + Math.exp(-x)) : Math.exp(x) / (1.0 + Math.exp(x));
    }
}
