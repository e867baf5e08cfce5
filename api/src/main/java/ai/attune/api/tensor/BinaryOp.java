package ai.attune.api.tensor;

/** Elementwise binary ops with broadcasting ({@code torch.add}, {@code torch.mul}, ...). */
public enum BinaryOp {
    ADD, SUB, MUL, DIV, MAXIMUM, MINIMUM, POW
}
