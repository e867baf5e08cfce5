package ai.attune.runtime.classify;

import ai.attune.runtime.train.RecipeException;
import ai.attune.runtime.train.RecipeLoader;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;

/**
 * A recipe whose method is a classifier ({@code method: setfit}): the body, the labelled files,
 * the method's own block (setfit's TrainingArguments keys, {@code seed} among them) and where the
 * trained classifier is saved.
 * <pre>
 * model: all-MiniLM-L6-v2
 * method: setfit
 * setfit: {loss: CosineSimilarityLoss, num_epochs: 1}
 * data: {path: train.csv, eval_path: test.csv, text_column: text, label_column: label, num_samples: 8}
 * output: runs/tickets-setfit
 * </pre>
 */
public final class ClassifierRecipe {
    /** The {@code data:} block; {@code num_samples} is setfit's {@code sample_dataset} per-class count. */
    public record Data(
            @JsonProperty("path") Path path,
            @JsonProperty("eval_path") Path evalPath,
            @JsonProperty("text_column") String textColumn,
            @JsonProperty("label_column") String labelColumn,
            @JsonProperty("num_samples") Integer numSamples) {}

    private ClassifierRecipe() {}

    /** Binds {@code root} (read from {@code file}) into a run of classifier method {@code method}. */
    public static ClassifierRun bind(Path file, ObjectNode root, String method) {
        String where = file.getFileName().toString();
        RecipeLoader loader = new RecipeLoader();
        RecipeLoader.checkFinite(root, where);
        loader.checkKeys(root, Set.of("model", "method", "data", "output", method), where);
        String model = RecipeLoader.required(root, "model", where).asText();
        Data data = loader.bindBlock(root, "data", Data.class, where);
        for (String key : new String[] {"path", "eval_path"}) {
            Path p = key.equals("path") ? data.path() : data.evalPath();
            if (p == null) {
                throw new RecipeException(where + ": missing key 'data." + key + "'");
            }
            if (!Files.isRegularFile(p)) {
                throw new RecipeException(where + ": data." + key + " '" + p + "' is not a file");
            }
        }
        if (data.numSamples() != null && data.numSamples() <= 0) {
            throw new RecipeException(where + ": data.num_samples must be a positive number of examples per class, found " + data.numSamples());
        }
        JsonNode block = root.get(method);
        if (block != null && !block.isNull() && !block.isObject()) {
            throw new RecipeException(where + ": '" + method + "' must be a mapping, found " + block);
        }
        ObjectNode keys = block instanceof ObjectNode o ? o.deepCopy() : JsonNodeFactory.instance.objectNode();
        JsonNode output = root.get("output");
        return new ClassifierRun(data.path(), data.evalPath(), data.textColumn() == null ? "text" : data.textColumn(),
                data.labelColumn() == null ? "label" : data.labelColumn(), data.numSamples() == null ? 8 : data.numSamples(), model, method,
                keys, 1, output == null || output.isNull() ? null : RecipeLoader.path(root, "output", where), null, true, true, where);
    }
}
