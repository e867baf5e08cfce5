package ai.attune.api.tensor;

/**
 * Elementwise binary ops with broadcasting ({@code torch.add}, {@code torch.mul}, ...). The
 * comparisons GT and EQ write 1 where true and 0 where false, in the output's dtype.
 */
public enum BinaryOp {
    ADD, SUB, MUL, DIV, MAXIMUM, MINIMUM, POW, GT, EQ
}
