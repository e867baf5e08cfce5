package ai.attune.api.tensor;

/** Tensor-scalar ops: {@code out = a OP s}; RSUB is {@code s - a}, RDIV is {@code s / a}. */
public enum ScalarOp {
    ADD, MUL, RSUB, RDIV, POW, MAXIMUM, MINIMUM
}
