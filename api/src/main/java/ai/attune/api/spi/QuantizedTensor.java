package ai.attune.api.spi;

import ai.attune.api.tensor.Tensor;

import java.util.Map;

/**
 * A weight in a quantized layout: packed uint8 blocks plus f32 (or nested-quantized) scales,
 * named as the format stores them, e.g. bitsandbytes' {@code absmax} and {@code quant_map}.
 */
public record QuantizedTensor(String format, int[] shape, Map<String, Tensor> parts) {}
