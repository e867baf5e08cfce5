package ai.attune.api.spi;

import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Tensor;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * A weight in a quantized layout: the packed codes plus the state that scales them, each part
 * named as the format stores it beside the weight, e.g. bitsandbytes' {@code absmax} and
 * {@code quant_map} saved as {@code q_proj.weight.absmax}.
 *
 * @param format the quantizer's name ({@code nf4})
 * @param shape  the dense weight's shape
 * @param dtype  the dense weight's dtype before quantization
 * @param data   the packed codes, stored under the weight's own name
 * @param state  the other parts by name suffix, in the order the format lists them
 */
public record QuantizedTensor(String format, int[] shape, DType dtype, Tensor data, Map<String, Tensor> state) {
    public QuantizedTensor {
        Objects.requireNonNull(format, "format");
        Objects.requireNonNull(dtype, "dtype");
        Objects.requireNonNull(data, "data");
        shape = shape.clone();
        state = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(state));
    }

    @Override
    public int[] shape() {
        return shape.clone();
    }

    /** Elements of the dense weight. */
    public long numel() {
        long n = 1;
        for (int d : shape) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    /** Every part under its checkpoint name: the codes as {@code name}, the state as {@code name.<suffix>}. */
    public Map<String, Tensor> checkpointTensors(String name) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        out.put(name, data);
        state.forEach((suffix, t) -> out.put(name + "." + suffix, t));
        return out;
    }

    /** Bytes the parts take, the codes and all of the state: what memory and disk hold for this weight. */
    public long storedBytes() {
        long bytes = data.numel() * data.dtype().byteSize();
        for (Tensor t : state.values()) {
            bytes += t.numel() * t.dtype().byteSize();
        }
        return bytes;
    }

    @Override
    public String toString() {
        return "QuantizedTensor[" + format + " " + Arrays.toString(shape) + " " + dtype + ", " + storedBytes() + " bytes]";
    }
}
