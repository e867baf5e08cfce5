package ai.attune.api.nn;

import ai.attune.api.autograd.Ops;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Tensor;

/**
 * A frozen base weight kept in a compact form (a 4-bit quantized weight) and made dense only for
 * the product that reads it, or not at all where the product decodes it as it goes:
 * {@link LinearLayer#setWeightSource} puts one in place of the layer's dense weight, for every model
 * family alike.
 */
public interface WeightSource {
    /** The dense weight's shape, the layer's {@code weight()} shape: [out, in], or [in, out] for fan-in-fan-out layers. */
    int[] shape();

    /**
     * The dense weight in {@code dtype}, a new tensor in the current scope that the caller owns and
     * releases after one use.
     */
    Tensor materialize(DType dtype);

    /**
     * {@code left @ W^T} ({@code transposeW}) or {@code left @ W} with W as {@code materialize(dtype)}
     * gives it: left is [rows, k], the result [rows, n] a new tensor in the current scope, under
     * autocast in its dtype as {@link Ops#matmul(Tensor, boolean, Tensor, boolean)} gives it; nothing
     * is recorded. By default W is materialized for this product alone and released; a source
     * that can multiply without making W dense (decoding it inside the GEMM) overrides this.
     */
    default Tensor matmul(Tensor left, boolean transposeW, DType dtype) {
        return Ops.matmulOnce(left, materialize(dtype), transposeW);
    }

    /** The bytes this source holds: what the weight costs in memory. */
    long storedBytes();
}
