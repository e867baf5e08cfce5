package ai.attune.api.spi;

import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;

/** A weight quantizer (e.g. {@code nf4}, {@code int8}), registered with {@code attune.quantizer=<name>}. */
public interface Quantizer<C> {
    String PROPERTY = "attune.quantizer";

    Class<C> configType();

    QuantizedTensor quantize(Tensor weight, C config, Scope scope);

    /** Back to a dense tensor of the compute dtype. */
    Tensor dequantize(QuantizedTensor q, Scope scope);
}
