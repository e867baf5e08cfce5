package ai.attune.api.nn;

import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Tensor;

/**
 * A frozen base weight kept in a compact form (a 4-bit quantized weight) and made dense only for
 * the product that reads it: {@link LinearLayer#setWeightSource} puts one in place of the layer's
 * dense weight, for every model family alike.
 */
public interface WeightSource {
    /** The dense weight's shape, the layer's {@code weight()} shape: [out, in], or [in, out] for fan-in-fan-out layers. */
    int[] shape();

    /**
     * The dense weight in {@code dtype}, a new tensor in the current scope that the caller owns and
     * releases after one use.
     */
    Tensor materialize(DType dtype);

    /** The bytes this source holds: what the weight costs in memory. */
    long storedBytes();
}
