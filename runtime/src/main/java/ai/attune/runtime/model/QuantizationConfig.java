package ai.attune.runtime.model;

import ai.attune.api.model.ModelConfig;
import ai.attune.api.model.ModelLoadException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.Optional;
import java.util.Set;

/**
 * transformers' {@code quantization_config} of a bitsandbytes 4-bit model, as config.json carries
 * it, with {@code BitsAndBytesConfig}'s key names and defaults ({@code bnb_4bit_quant_type} is
 * {@code fp4} when absent). The blocksize is not here: each weight's quant state records its own.
 *
 * @param quantType    {@code bnb_4bit_quant_type}: the name of the quantizer that reads the weights
 * @param doubleQuant  {@code bnb_4bit_use_double_quant}
 * @param computeDtype {@code bnb_4bit_compute_dtype}, as written
 */
public record QuantizationConfig(String quantType, boolean doubleQuant, String computeDtype) {
    public static final String KEY = "quantization_config";
    private static final Set<String> STORAGE = Set.of("uint8");

    /** The block of {@code config}, or empty for a model that is not quantized; a block Attune cannot load is refused naming its key. */
    public static Optional<QuantizationConfig> read(ModelConfig config) throws ModelLoadException {
        if (!config.has(KEY)) {
            return Optional.empty();
        }
        JsonNode q = config.node(KEY);
        if (!q.isObject()) {
            throw config.error("key '" + KEY + "' must be an object, found " + q);
        }
        String method = q.path("quant_method").asText("");
        if (!method.equals("bitsandbytes")) {
            throw config.error("key '" + KEY + ".quant_method' is \"" + method + "\"; only bitsandbytes 4-bit models load");
        }
        if (!q.path("load_in_4bit").asBoolean(false)) {
            throw config.error("key '" + KEY + ".load_in_4bit' is not true; only bitsandbytes 4-bit models load (not load_in_8bit)");
        }
        String storage = q.path("bnb_4bit_quant_storage").asText("uint8");
        if (!STORAGE.contains(storage)) {
            throw config.error("key '" + KEY + ".bnb_4bit_quant_storage' is \"" + storage + "\"; 4-bit codes load from uint8 storage only");
        }
        return Optional.of(new QuantizationConfig(q.path("bnb_4bit_quant_type").asText("fp4"), q.path("bnb_4bit_use_double_quant").asBoolean(false),
                q.path("bnb_4bit_compute_dtype").asText("float32")));
    }

    private static final java.util.List<String> LOADER_KEYS = java.util.List.of("quant_method", "load_in_4bit", "load_in_8bit", "bnb_4bit_quant_type",
            "bnb_4bit_compute_dtype", "bnb_4bit_quant_storage");

    /**
     * Checks the keys of a BitsAndBytesConfig block (a recipe's {@code quantization:}, a QLoRA
     * adapter's quantization_config.json) that concern loading: {@code load_in_4bit} true,
     * {@code bnb_4bit_compute_dtype} float32, {@code bnb_4bit_quant_storage} uint8. Returns
     * {@code bnb_4bit_quant_type}, the quantizer's name (BitsAndBytesConfig's default {@code fp4});
     * a refusal is an {@link IllegalArgumentException} naming {@code prefix.key}.
     */
    public static String loaderKeys(JsonNode block, String prefix) {
        if (!block.isObject()) {
            throw new IllegalArgumentException("'" + prefix + "' must be a mapping, found " + block);
        }
        String method = block.path("quant_method").asText("bitsandbytes");
        if (!method.equals("bitsandbytes")) {
            throw new IllegalArgumentException(prefix + ".quant_method '" + method + "' is not supported: only bitsandbytes 4-bit quantization is");
        }
        if (!block.path("load_in_4bit").asBoolean(false) || block.path("load_in_8bit").asBoolean(false)) {
            throw new IllegalArgumentException(prefix + ".load_in_4bit must be true: the base quantizes to 4 bits (8-bit loading is not supported)");
        }
        String dtype = block.path("bnb_4bit_compute_dtype").asText("float32");
        if (!dtype.equals("float32")) {
            throw new IllegalArgumentException(prefix + ".bnb_4bit_compute_dtype '" + dtype
                    + "' is not supported: weights dequantize to float32; set train.precision: bf16 to run the products in bf16");
        }
        String storage = block.path("bnb_4bit_quant_storage").asText("uint8");
        if (!storage.equals("uint8")) {
            throw new IllegalArgumentException(prefix + ".bnb_4bit_quant_storage '" + storage + "' is not supported: codes are stored as uint8");
        }
        return block.path("bnb_4bit_quant_type").asText("fp4");
    }

    /** The keys of a block that belong to the quantizer's config ({@code bnb_4bit_use_double_quant}, {@code bnb_4bit_blocksize}, ...). */
    public static ObjectNode quantizerKeys(JsonNode block) {
        ObjectNode own = ((ObjectNode) block).deepCopy();
        own.remove(LOADER_KEYS);
        return own;
    }

    /** The block as transformers writes it into config.json. */
    public ObjectNode toJson() {
        ObjectNode n = JsonNodeFactory.instance.objectNode();
        n.put("quant_method", "bitsandbytes");
        n.put("load_in_4bit", true);
        n.put("load_in_8bit", false);
        n.put("bnb_4bit_quant_type", quantType);
        n.put("bnb_4bit_use_double_quant", doubleQuant);
        n.put("bnb_4bit_compute_dtype", computeDtype);
        n.put("bnb_4bit_quant_storage", "uint8");
        return n;
    }
}
