package ai.attune.plugins.setfit;

import ai.attune.api.io.AtomicDirectory;
import ai.attune.api.model.ModelDirectoryWriter;
import ai.attune.api.nn.Module;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.Scope;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A saved SetFit model, laid out as setfit's {@code save_pretrained} does: a sentence-transformers
 * directory for the body ({@code model.safetensors}, {@code config.json}, the tokenizer,
 * {@code modules.json}, {@code sentence_bert_config.json}, {@code 1_Pooling/config.json},
 * {@code config_sentence_transformers.json}: the base's when it has them) plus
 * {@code config_setfit.json} (the labels) and the head. setfit pickles its head; a pickle is not
 * portable, so the head is {@value #HEAD_FILE}: for logistic regression its coef, intercept and
 * classes; for the differentiable head ({@code "type": "SetFitHead"}) its linear weight and bias.
 */
final class SetFitDirectory {
    static final String HEAD_FILE = "model_head.json";
    static final String SETFIT_CONFIG = "config_setfit.json";
    private static final String DIFFERENTIABLE = "SetFitHead";

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
    static void write(Module body, int dimension, Path baseDir, Head head, Path out) throws IOException {
        AtomicDirectory.create(out, tmp -> {
            ModelDirectoryWriter.writeInto(body.namedParameters(), baseDir, tmp);
            ObjectMapper json = new ObjectMapper();
            // A sentence-transformers body keeps its own pipeline (bge's [CLS] pooling, e5's prompts);
            // a bare encoder gets mean pooling and Normalize, the pipeline the body was trained with here.
            if (!Files.exists(tmp.resolve("modules.json")) || !Files.exists(tmp.resolve("1_Pooling/config.json"))) {
                Files.writeString(tmp.resolve("modules.json"), MODULES_JSON);
                Files.createDirectories(tmp.resolve("1_Pooling"));
                ObjectNode pooling = json.createObjectNode().put("word_embedding_dimension", dimension).put("pooling_mode_cls_token", false)
                        .put("pooling_mode_mean_tokens", true).put("pooling_mode_max_tokens", false).put("pooling_mode_mean_sqrt_len_tokens", false);
                Files.writeString(tmp.resolve("1_Pooling/config.json"), json.writerWithDefaultPrettyPrinter().writeValueAsString(pooling));
                Files.createDirectories(tmp.resolve("2_Normalize"));
            }
            if (!Files.exists(tmp.resolve("sentence_bert_config.json"))) {
                Files.writeString(tmp.resolve("sentence_bert_config.json"), "{\"max_seq_length\": 256, \"do_lower_case\": false}\n");
            }
            ObjectNode setfit = json.createObjectNode().put("normalize_embeddings", false);
            head.classes().forEach(setfit.putArray("labels")::add);
            Files.writeString(tmp.resolve(SETFIT_CONFIG), json.writerWithDefaultPrettyPrinter().writeValueAsString(setfit));
            Files.writeString(tmp.resolve(HEAD_FILE), json.writerWithDefaultPrettyPrinter().writeValueAsString(headJson(json, head)));
        });
    }

    /** Reads the head of a directory {@link #write} made; a differentiable head's weights go into {@code scope}. */
    static Head readHead(Path dir, Backend backend, Scope scope) throws IOException {
        Path file = dir.resolve(HEAD_FILE);
        JsonNode n;
        try {
            n = new ObjectMapper().readTree(Files.readString(file));
        } catch (NoSuchFileException e) {
            throw new IOException(file + ": not found; --model must be a directory saved by 'attune setfit --out'");
        }
        List<String> classes = new ArrayList<>();
        n.path("classes").forEach(c -> classes.add(c.asText()));
        try {
            if (DIFFERENTIABLE.equals(n.path("type").asText())) {
                return DifferentiableHead.of(backend, scope, classes, flatten(rows(n.path("weight"))), doubles(n.path("bias")));
            }
            return new LogisticRegressionHead(classes, rows(n.path("coef")), doubles(n.path("intercept")));
        } catch (IllegalArgumentException e) {
            throw new IOException(file + ": " + e.getMessage());
        }
    }

    private static ObjectNode headJson(ObjectMapper json, Head head) {
        ObjectNode n = json.createObjectNode();
        switch (head) {
            case LogisticRegressionHead lr -> {
                n.put("type", "LogisticRegression").put("C", LogisticRegressionHead.DEFAULT_C)
                        .put("multi_class", lr.coef().length == 1 ? "binary" : "multinomial");
                head.classes().forEach(n.putArray("classes")::add);
                putRows(n.putArray("coef"), lr.coef());
                putRow(n.putArray("intercept"), lr.intercept());
            }
            case DifferentiableHead d -> {
                n.put("type", DIFFERENTIABLE).put("out_features", d.classes().size()).put("temperature", 1.0);
                head.classes().forEach(n.putArray("classes")::add);
                double[] w = d.weight();
                int dim = w.length / d.classes().size();
                double[][] rows = new double[d.classes().size()][];
                for (int k = 0; k < rows.length; k++) {
                    rows[k] = Arrays.copyOfRange(w, k * dim, (k + 1) * dim);
                }
                putRows(n.putArray("weight"), rows);
                putRow(n.putArray("bias"), d.bias());
            }
        }
        return n;
    }

    private static void putRows(ArrayNode out, double[][] rows) {
        for (double[] row : rows) {
            putRow(out.addArray(), row);
        }
    }

    private static void putRow(ArrayNode out, double[] row) {
        for (double v : row) {
            out.add(v);
        }
    }

    private static double[][] rows(JsonNode array) {
        double[][] out = new double[array.size()][];
        for (int r = 0; r < out.length; r++) {
            out[r] = doubles(array.get(r));
        }
        return out;
    }

    private static double[] flatten(double[][] rows) {
        return Arrays.stream(rows).flatMapToDouble(java.util.Arrays::stream).toArray();
    }

    private static double[] doubles(JsonNode array) {
        double[] out = new double[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).asDouble();
        }
        return out;
    }
}
