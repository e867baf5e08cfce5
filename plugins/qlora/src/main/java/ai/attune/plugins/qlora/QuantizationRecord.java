package ai.attune.plugins.qlora;

import ai.attune.api.nn.Module;
import ai.attune.api.spi.QuantizedWeight;
import ai.attune.api.spi.Quantizer;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.List;

/**
 * The quantization of a model's base, as transformers' BitsAndBytesConfig keys: what a QLoRA
 * adapter was trained against, so that the same base can be re-created from the original model.
 */
final class QuantizationRecord {
    private static final ObjectMapper JSON = new ObjectMapper();

    private QuantizationRecord() {}

    /** The record of {@code model}'s quantized Linears, which must all be quantized alike; a dense base is refused. */
    static ObjectNode of(Module model) {
        List<QuantizedWeight> weights = QloraMethod.quantized(model).toList();
        if (weights.isEmpty()) {
            throw new IllegalArgumentException("method qlora trains over a 4-bit base, and this model has no quantized Linear weight: add a "
                    + "'quantization: {load_in_4bit: true, bnb_4bit_quant_type: nf4, bnb_4bit_use_double_quant: true}' block to the recipe, "
                    + "or train a model that attune quantize wrote");
        }
        ObjectNode first = describe(weights.get(0));
        for (QuantizedWeight w : weights) {
            ObjectNode n = describe(w);
            if (!n.equals(first)) {
                throw new IllegalArgumentException("the base's Linear weights are quantized in different ways (" + first + " and " + n
                        + "); QLoRA records one quantization per adapter");
            }
        }
        return first;
    }

    @SuppressWarnings("unchecked")
    private static ObjectNode describe(QuantizedWeight w) {
        Quantizer<Object> q = (Quantizer<Object>) w.quantizer();
        ObjectNode n = JSON.createObjectNode();
        n.put("quant_method", "bitsandbytes");
        n.put("load_in_4bit", true);
        n.put("bnb_4bit_quant_type", w.tensor().format());
        n.setAll((ObjectNode) JSON.valueToTree(q.configOf(w.tensor())));
        n.put("bnb_4bit_compute_dtype", "float32");
        n.put("bnb_4bit_quant_storage", "uint8");
        return n;
    }
}
