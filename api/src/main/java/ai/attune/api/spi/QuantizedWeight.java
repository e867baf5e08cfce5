package ai.attune.api.spi;

import ai.attune.api.nn.WeightSource;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;

/** A quantized tensor as a Linear's base weight: dequantized by its quantizer each time a product needs it. */
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

    @Override
    public long storedBytes() {
        return tensor.storedBytes();
    }
}
