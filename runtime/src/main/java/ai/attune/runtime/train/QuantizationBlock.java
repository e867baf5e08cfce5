package ai.attune.runtime.train;

import ai.attune.api.spi.Kind;
import ai.attune.api.spi.Quantizer;
import ai.attune.runtime.host.PluginCatalog;
import ai.attune.runtime.model.ModelLoader;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.List;

/**
 * A recipe's {@code quantization:} block, with transformers' {@code BitsAndBytesConfig} keys:
 * {@code load_in_4bit} (must be true), {@code bnb_4bit_quant_type} (the quantizer's name,
 * BitsAndBytesConfig's default {@code fp4}), {@code bnb_4bit_compute_dtype} (float32: products run
 * in the model's dtype, {@code train.precision} lowers them) and {@code bnb_4bit_quant_storage}
 * (uint8); the other keys ({@code bnb_4bit_use_double_quant}, {@code bnb_4bit_blocksize}) belong
 * to the quantizer's config and are bound to it.
 */
final class QuantizationBlock {
    private static final List<String> LOADER_KEYS = List.of("load_in_4bit", "load_in_8bit", "bnb_4bit_quant_type", "bnb_4bit_compute_dtype",
            "bnb_4bit_quant_storage");

    private QuantizationBlock() {}

    /** The block bound against the installed quantizers, or null when the recipe has none; a bad key is refused naming it. */
    @SuppressWarnings("unchecked")
    static ModelLoader.Quantization bind(JsonNode block, PluginCatalog catalog, RecipeLoader loader, String where) {
        if (block == null || block.isNull()) {
            return null;
        }
        if (!block.isObject()) {
            throw new RecipeException(where + ": 'quantization' must be a mapping, found " + block);
        }
        if (!block.path("load_in_4bit").asBoolean(false) || block.path("load_in_8bit").asBoolean(false)) {
            throw new RecipeException(where + ": quantization.load_in_4bit must be true: the base quantizes to 4 bits (8-bit loading is not supported)");
        }
        String dtype = block.path("bnb_4bit_compute_dtype").asText("float32");
        if (!dtype.equals("float32")) {
            throw new RecipeException(where + ": quantization.bnb_4bit_compute_dtype '" + dtype
                    + "' is not supported: weights dequantize to float32; set train.precision: bf16 to run the products in bf16");
        }
        String storage = block.path("bnb_4bit_quant_storage").asText("uint8");
        if (!storage.equals("uint8")) {
            throw new RecipeException(where + ": quantization.bnb_4bit_quant_storage '" + storage + "' is not supported: codes are stored as uint8");
        }
        String type = block.path("bnb_4bit_quant_type").asText("fp4");
        Quantizer<Object> quantizer = catalog.find(Kind.QUANTIZER, type, Quantizer.class).orElseThrow(() -> new RecipeException(where
                + ": quantization.bnb_4bit_quant_type '" + type + "' is not installed; installed: "
                + catalog.list(Kind.QUANTIZER).stream().map(PluginCatalog.Entry::name).toList()));
        ObjectNode own = ((ObjectNode) block).deepCopy();
        own.remove(LOADER_KEYS);
        return new ModelLoader.Quantization(quantizer, loader.bindConfig(own, quantizer.defaultConfig(), quantizer.configType(), "quantization", where));
    }
}
