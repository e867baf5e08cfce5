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
