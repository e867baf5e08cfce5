package ai.attune.api.spi;

import ai.attune.api.autograd.Autocast;
import ai.attune.api.nn.WeightSource;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;

/**
 * A quantized tensor as a Linear's base weight: multiplied by its quantizer, which decodes it inside
 * the product where its backend can, and else dequantized each time a product needs it.
 */
public record QuantizedWeight(QuantizedTensor tensor, Quantizer<?> quantizer) implements WeightSource {
    @Override
    public int[] shape() {
        return tensor.shape();
    }

    @Override
    public Tensor materialize(DType dtype) {
        Tensor f32 = quantizer.dequantize(tensor, Scope.current());
        if (dtype == f32.dtype()) {
            return f32;
        }
        Tensor out = f32.backend().empty(dtype, f32.shape(), Scope.current());
        f32.backend().copy(f32, out); // rounds to nearest even, as bitsandbytes' dequantize to a 16-bit dtype
        f32.storage().release();
        return out;
    }

    /**
     * An all-f32 product goes to the quantizer, which may decode the weight inside the GEMM; any
     * other must see the weight rounded to its 16-bit dtype first, as {@link #materialize} gives it.
     */
    @Override
    public Tensor matmul(Tensor left, boolean transposeW, DType dtype) {
        if (dtype != DType.F32 || left.dtype() != DType.F32 || Autocast.dtype() != null || tensor.shape().length != 2) {
            return WeightSource.super.matmul(left, transposeW, dtype);
        }
        return quantizer.matmul(tensor, left, transposeW);
    }

    @Override
    public long storedBytes() {
        return tensor.storedBytes();
    }
}
