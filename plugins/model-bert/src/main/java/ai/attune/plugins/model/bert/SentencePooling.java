package ai.attune.plugins.model.bert;

import ai.attune.api.model.ModelLoadException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * How a sentence-transformers directory turns token states into a sentence embedding: the
 * pooling of its {@code Pooling} module (mean over the mask, the [CLS] token, or the max over the
 * mask) and whether a {@code Normalize} module follows. A directory without {@code modules.json}
 * gets mean pooling with L2 normalisation; a {@code 1_Pooling/config.json} asking for another
 * pooling, or for several at once, is refused.
 */
record SentencePooling(Mode mode, boolean normalize) {
    enum Mode { MEAN, CLS, MAX }

    static final SentencePooling DEFAULT = new SentencePooling(Mode.MEAN, true);

    static SentencePooling of(Path dir) throws IOException {
        Path modules = dir.resolve("modules.json");
        if (!Files.isRegularFile(modules)) {
            return DEFAULT;
        }
        ObjectMapper json = new ObjectMapper();
        Mode mode = Mode.MEAN;
        boolean normalize = false;
        for (JsonNode m : json.readTree(Files.readString(modules))) {
            String type = m.path("type").asText();
            if (type.endsWith(".Normalize")) {
                normalize = true;
            } else if (type.endsWith(".Pooling")) {
                Path cfg = dir.resolve(m.path("path").asText()).resolve("config.json").normalize();
                if (cfg.startsWith(dir.normalize()) && Files.isRegularFile(cfg)) {
                    mode = mode(dir.normalize().relativize(cfg).toString(), json.readTree(Files.readString(cfg)));
                }
            }
        }
        return new SentencePooling(mode, normalize);
    }

    /**
     * The one mode {@code config} turns on (mean when none is). sentence-transformers concatenates
     * the outputs of several, and has modes this family does not compute; both are refused rather
     * than embedded some other way.
     */
    private static Mode mode(String file, JsonNode config) throws ModelLoadException {
        List<String> on = new ArrayList<>();
        for (String key : List.of("pooling_mode_cls_token", "pooling_mode_mean_tokens", "pooling_mode_max_tokens",
                "pooling_mode_mean_sqrt_len_tokens", "pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken")) {
            if (config.path(key).asBoolean(false)) {
                on.add(key);
            }
        }
        if (on.size() > 1) {
            throw new ModelLoadException(file + ": turns on " + String.join(" and ", on) + ", whose outputs sentence-transformers "
                    + "concatenates; model-bert pools one way: keep one of them");
        }
        return switch (on.isEmpty() ? "pooling_mode_mean_tokens" : on.get(0)) {
            case "pooling_mode_cls_token" -> Mode.CLS;
            case "pooling_mode_max_tokens" -> Mode.MAX;
            case "pooling_mode_mean_tokens" -> Mode.MEAN;
            default -> throw new ModelLoadException(file + ": " + on.get(0) + " is not a pooling model-bert computes; "
                    + "it computes pooling_mode_mean_tokens, pooling_mode_cls_token and pooling_mode_max_tokens");
        };
    }
}
