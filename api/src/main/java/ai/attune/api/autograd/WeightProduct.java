package ai.attune.api.autograd;

import ai.attune.api.tensor.Tensor;

/**
 * How a frozen weight w that is not kept dense enters a product: {@code left @ op(w)}, computed by
 * whoever holds w (dequantizing it for this product alone, or decoding it inside the GEMM), each
 * time it is asked. See {@link Ops#matmul(Tensor, WeightProduct, boolean)}.
 */
@FunctionalInterface
public interface WeightProduct {
    /**
     * {@code left @ op(w)}, a new tensor in the current scope: left is [rows, k]; w is [n, k] when
     * {@code transB}, else [k, n]. It runs without recording and under the autocast state of the
     * forward it belongs to.
     */
    Tensor multiply(Tensor left, boolean transB);
}
