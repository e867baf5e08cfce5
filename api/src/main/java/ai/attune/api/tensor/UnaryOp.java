package ai.attune.api.tensor;

/**
 * Elementwise unary ops. The activations follow PyTorch: {@code GELU_ERF} is {@code gelu(x)},
 * {@code GELU_TANH} is {@code gelu(x, approximate="tanh")} (GPT-2's "gelu_new"), {@code SILU} is
 * {@code x * sigmoid(x)}.
 */
public enum UnaryOp {
    NEG, ABS, EXP, LOG, SQRT, RSQRT, SQUARE, RECIPROCAL, SIN, COS,
    TANH, SIGMOID, RELU, SILU, GELU_ERF, GELU_TANH
}
