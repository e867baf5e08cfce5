package ai.attune.api.spi;

import ai.attune.api.autograd.Ops;
import ai.attune.api.io.SafetensorsReader;
import ai.attune.api.io.TensorInfo;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.Blockwise4Bit;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;

import java.io.IOException;

/**
 * A weight quantizer (e.g. {@code nf4}, {@code fp4}), registered with {@code attune.quantizer=<name>}.
 * It owns one storage format end to end: what {@link #quantize} computes, the dense values
 * {@link #dequantize} gives back, and how a checkpoint names the parts ({@link #read}), so the
 * runtime writes and loads quantized models without knowing the format.
 *
 * @param <C> the config record, with the upstream library's key names (e.g. bitsandbytes'
 *            {@code bnb_4bit_use_double_quant})
 */
public interface Quantizer<C> {
    String PROPERTY = "attune.quantizer";

    Class<C> configType();

    /** The config with the upstream library's defaults. */
    C defaultConfig();

    /** Quantizes a dense floating weight of any shape; the parts are allocated in {@code scope}. */
    QuantizedTensor quantize(Tensor weight, C config, Scope scope);

    /** The config {@code q} was quantized with, as its parts record it (e.g. its blocksize, and whether its scales are quantized too). */
    C configOf(QuantizedTensor q);

    /** The dense f32 weight the quantized one stands for, of its shape, allocated in {@code scope}. */
    Tensor dequantize(QuantizedTensor q, Scope scope);

    /**
     * {@code left @ W^T} ({@code transposeW}) or {@code left @ W} for W the f32 {@link #dequantize}
     * of a 2-D {@code q}: left is f32 [rows, k], the result f32 [rows, n], a new tensor in the
     * current scope; nothing is recorded. By default W is dequantized for this product alone and
     * released; a quantizer whose format a backend multiplies directly (see
     * {@link Backend#matmul(Tensor, boolean, Blockwise4Bit, boolean, Tensor)})
     * overrides it, so W is never dense.
     */
    default Tensor matmul(QuantizedTensor q, Tensor left, boolean transposeW) {
        return Ops.matmulOnce(left, dequantize(q, Scope.current()), transposeW);
    }

    /** Whether {@code checkpoint} holds the weight {@code name} in this quantizer's format. */
    boolean stores(SafetensorsReader checkpoint, String name);

    /** The header entry of the dense weight that {@code name} stands for: its dtype and shape before quantization. */
    TensorInfo denseInfo(SafetensorsReader checkpoint, String name) throws IOException;

    /**
     * Reads the weight {@code name} that {@link #stores} found, copying its parts off the file into
     * {@code scope}; a part that is missing or contradicts the others is refused with one line
     * naming the file and the tensor.
     */
    QuantizedTensor read(SafetensorsReader checkpoint, String name, Backend backend, Scope scope) throws IOException;
}
