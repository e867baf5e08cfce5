package ai.attune.plugins.model.bert;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * How a sentence-transformers directory turns token states into a sentence embedding: the
 * pooling of its {@code Pooling} module (mean over the mask, the [CLS] token, or the max over the
 * mask) and whether a {@code Normalize} module follows. A directory without {@code modules.json}
 * gets mean pooling with L2 normalisation.
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
                    JsonNode c = json.readTree(Files.readString(cfg));
                    if (c.path("pooling_mode_cls_token").asBoolean(false)) {
                        mode = Mode.CLS;
                    } else if (c.path("pooling_mode_max_tokens").asBoolean(false)) {
                        mode = Mode.MAX;
                    }
                }
            }
        }
        return new SentencePooling(mode, normalize);
    }
}
