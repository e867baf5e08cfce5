package ai.attune.plugins.model.llama;

import ai.attune.api.autograd.F;
import ai.attune.api.model.ModelConfig;
import ai.attune.api.model.ModelLoadException;
import com.fasterxml.jackson.databind.JsonNode;

/**
 * Rotary inverse frequencies under {@code rope_scaling}, as transformers' rope init functions:
 * none/"default", "linear" (positions divided by the factor) and "llama3" (low frequencies divided by
 * the factor, high ones kept, a smooth ramp between).
 */
final class RopeScaling {
    private RopeScaling() {}

    static float[] invFreq(ModelConfig c, double theta, int headDim) throws ModelLoadException {
        float[] base = F.ropeInvFreq(theta, headDim);
        JsonNode s = c.node("rope_scaling");
        if (s.isNull() || s.isMissingNode()) {
            return base;
        }
        if (!s.isObject()) {
            throw c.error("rope_scaling must be an object or null, found " + s);
        }
        String type = s.hasNonNull("rope_type") ? s.get("rope_type").asText() : s.path("type").asText("default");
        return switch (type) {
            case "default" -> base;
            case "linear" -> linear(base, factor(c, s));
            case "llama3" -> llama3(c, s, base);
            default -> throw c.error("rope_scaling type '" + type + "' is not supported (default, linear, llama3 are)");
        };
    }

    private static double factor(ModelConfig c, JsonNode s) throws ModelLoadException {
        if (!s.path("factor").isNumber()) {
            throw c.error("rope_scaling.factor must be a number, found " + s.path("factor"));
        }
        return s.get("factor").doubleValue();
    }

    private static float[] linear(float[] base, double factor) {
        float[] out = new float[base.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = (float) (base[i] / factor);
        }
        return out;
    }

    private static float[] llama3(ModelConfig c, JsonNode s, float[] base) throws ModelLoadException {
        double factor = factor(c, s);
        double low = s.path("low_freq_factor").asDouble(1.0);
        double high = s.path("high_freq_factor").asDouble(4.0);
        if (!s.path("original_max_position_embeddings").isNumber()) {
            throw c.error("rope_scaling.original_max_position_embeddings is required for llama3 scaling");
        }
        double oldContext = s.get("original_max_position_embeddings").doubleValue();
        double lowWavelen = oldContext / low;
        double highWavelen = oldContext / high;
        float[] out = new float[base.length];
        for (int i = 0; i < out.length; i++) {
            double f = base[i];
            double wavelen = 2 * Math.PI / f;
            double scaled = wavelen > lowWavelen ? f / factor : f;
            boolean medium = !(wavelen < highWavelen) && !(wavelen > lowWavelen);
            if (medium) {
                double smooth = (oldContext / wavelen - low) / (high - low);
                scaled = (1 - smooth) * scaled / factor + smooth * scaled;
            }
            out[i] = (float) scaled;
        }
        return out;
    }
}
