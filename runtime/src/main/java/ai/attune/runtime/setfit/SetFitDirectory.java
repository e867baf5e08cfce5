package ai.attune.runtime.setfit;

import ai.attune.api.io.AtomicDirectory;
import ai.attune.api.model.ModelDirectoryWriter;
import ai.attune.api.nn.Module;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A saved SetFit model, laid out as setfit's {@code save_pretrained} does: a sentence-transformers
 * directory for the body ({@code model.safetensors}, {@code config.json}, the tokenizer,
 * {@code modules.json}, {@code sentence_bert_config.json}, {@code 1_Pooling/config.json}) plus
 * {@code config_setfit.json} (the labels) and the head. setfit pickles its sklearn head; a pickle
 * is not portable, so the head is {@value #HEAD_FILE}: coef, intercept and classes in JSON.
 */
public final class SetFitDirectory {
    public static final String HEAD_FILE = "model_head.json";
    public static final String SETFIT_CONFIG = "config_setfit.json";

    private static final String MODULES_JSON = """
            [
              {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
              {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
              {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}
            ]
            """;

    private SetFitDirectory() {}

    /**
     * Writes {@code body}'s weights, {@code baseDir}'s config and tokenizer files and the head to
     * {@code out}, which must not exist; it appears whole or not at all.
     */
    public static void write(Module body, int dimension, Path baseDir, LogisticRegressionHead head, Path out) throws IOException {
        AtomicDirectory.create(out, tmp -> {
            ModelDirectoryWriter.writeInto(body.namedParameters(), baseDir, tmp);
            ObjectMapper json = new ObjectMapper();
            Files.writeString(tmp.resolve("modules.json"), MODULES_JSON);
            if (!Files.exists(tmp.resolve("sentence_bert_config.json"))) {
                Files.writeString(tmp.resolve("sentence_bert_config.json"), "{\"max_seq_length\": 256, \"do_lower_case\": false}\n");
            }
            Files.createDirectories(tmp.resolve("1_Pooling"));
            ObjectNode pooling = json.createObjectNode().put("word_embedding_dimension", dimension).put("pooling_mode_cls_token", false)
                    .put("pooling_mode_mean_tokens", true).put("pooling_mode_max_tokens", false).put("pooling_mode_mean_sqrt_len_tokens", false);
            Files.writeString(tmp.resolve("1_Pooling/config.json"), json.writerWithDefaultPrettyPrinter().writeValueAsString(pooling));
            Files.createDirectories(tmp.resolve("2_Normalize"));
            ObjectNode setfit = json.createObjectNode().put("normalize_embeddings", false);
            head.classes().forEach(setfit.putArray("labels")::add);
            Files.writeString(tmp.resolve(SETFIT_CONFIG), json.writerWithDefaultPrettyPrinter().writeValueAsString(setfit));
            Files.writeString(tmp.resolve(HEAD_FILE), json.writerWithDefaultPrettyPrinter().writeValueAsString(headJson(json, head)));
        });
    }

    /** Reads the head of a directory {@link #write} made. */
    public static LogisticRegressionHead readHead(Path dir) throws IOException {
        Path file = dir.resolve(HEAD_FILE);
        JsonNode n;
        try {
            n = new ObjectMapper().readTree(Files.readString(file));
        } catch (NoSuchFileException e) {
            throw new IOException(file + ": not found; --model must be a directory saved by 'attune setfit --out'");
        }
        List<String> classes = new ArrayList<>();
        n.path("classes").forEach(c -> classes.add(c.asText()));
        JsonNode coef = n.path("coef");
        double[][] w = new double[coef.size()][];
        for (int r = 0; r < w.length; r++) {
            w[r] = doubles(coef.get(r));
        }
        try {
            return new LogisticRegressionHead(classes, w, doubles(n.path("intercept")));
        } catch (IllegalArgumentException e) {
            throw new IOException(file + ": " + e.getMessage());
        }
    }

    private static ObjectNode headJson(ObjectMapper json, LogisticRegressionHead head) {
        ObjectNode n = json.createObjectNode().put("type", "LogisticRegression").put("C", LogisticRegressionHead.DEFAULT_C)
                .put("multi_class", head.coef().length == 1 ? "binary" : "multinomial");
        head.classes().forEach(n.putArray("classes")::add);
        ArrayNode coef = n.putArray("coef");
        for (double[] row : head.coef()) {
            ArrayNode r = coef.addArray();
            for (double v : row) {
                r.add(v);
            }
        }
        ArrayNode b = n.putArray("intercept");
        for (double v : head.intercept()) {
            b.add(v);
        }
        return n;
    }

    private static double[] doubles(JsonNode array) {
        double[] out = new double[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).asDouble();
        }
        return out;
    }
}
