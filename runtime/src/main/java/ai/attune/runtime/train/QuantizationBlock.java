package ai.attune.runtime.train;

import ai.attune.api.spi.Kind;
import ai.attune.api.spi.Quantizer;
import ai.attune.runtime.host.PluginCatalog;
import ai.attune.runtime.model.ModelLoader;
import ai.attune.runtime.model.QuantizationConfig;
import com.fasterxml.jackson.databind.JsonNode;

/**
 * A recipe's {@code quantization:} block, with transformers' {@code BitsAndBytesConfig} keys: the
 * loading keys as {@link QuantizationConfig#loaderKeys} checks them, the rest
 * ({@code bnb_4bit_use_double_quant}, {@code bnb_4bit_blocksize}) bound to the quantizer's config.
 */
final class QuantizationBlock {
    private QuantizationBlock() {}

    /** The block bound against the installed quantizers, or null when the recipe has none; a bad key is refused naming it. */
    @SuppressWarnings("unchecked")
    static ModelLoader.Quantization bind(JsonNode block, PluginCatalog catalog, RecipeLoader loader, String where) {
        if (block == null || block.isNull()) {
            return null;
        }
        String type;
        try {
            type = QuantizationConfig.loaderKeys(block, "quantization");
        } catch (IllegalArgumentException e) {
            throw new RecipeException(where + ": " + e.getMessage());
        }
        Quantizer<Object> quantizer = catalog.find(Kind.QUANTIZER, type, Quantizer.class).orElseThrow(() -> new RecipeException(where
                + ": quantization.bnb_4bit_quant_type '" + type + "' is not installed; installed: "
                + catalog.list(Kind.QUANTIZER).stream().map(PluginCatalog.Entry::name).toList()));
        return new ModelLoader.Quantization(quantizer, loader.bindConfig(QuantizationConfig.quantizerKeys(block), quantizer.defaultConfig(),
                quantizer.configType(), "quantization", where));
    }
}
