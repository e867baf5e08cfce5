package ai.attune.runtime.plan;

import ai.attune.api.model.ModelConfig;
import ai.attune.api.spi.Kind;
import ai.attune.api.spi.Method;
import ai.attune.api.spi.Optimizer;
import ai.attune.runtime.host.PluginCatalog;
import ai.attune.runtime.model.ModelLoader;
import ai.attune.runtime.train.Recipe;
import ai.attune.runtime.train.RecipeException;
import ai.attune.runtime.train.RecipeLoader;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * A recipe read for planning. It is bound and checked as {@code attune train} binds it: strict
 * keys, the method's and the optimizer's blocks bound to their installed plugins' config types.
 * Of the model only {@code config.json} is read, so a directory holding just that can be planned.
 */
public final class RecipePlan {
    /** What a plan needs: names for the report, the model's shape, the setup, and the techniques installed here. */
    public record Input(String recipe, String model, ModelShape shape, TrainingSetup setup, String backend, Set<String> installed) {}

    /** PEFT's {@code target_modules} default for the Llama family, as the LoRA plugin applies it. */
    static final List<String> LLAMA_LORA_TARGETS = List.of("q_proj", "v_proj");

    private static final ObjectMapper JSON = new ObjectMapper();

    private RecipePlan() {}

    /**
     * Binds {@code tree} (read from {@code file}) against {@code catalog}. {@code model}, when not
     * null, replaces the recipe's model (a preset shape); {@code modelName} names it.
     */
    public static Input read(Path file, ObjectNode tree, PluginCatalog catalog, ModelConfig model, String modelName) throws IOException {
        String where = file.getFileName().toString();
        RecipeLoader loader = new RecipeLoader();
        Recipe recipe = loader.bind(file, tree, RecipeLoader.methodBlocks(catalog));
        Method<?> method = catalog.find(Kind.METHOD, recipe.method(), Method.class)
                .orElseThrow(() -> new RecipeException(where + ": method '" + recipe.method() + "' is not installed"));
        JsonNode methodConfig = bound(loader, recipe.methodConfig(), method.defaultConfig(), method.configType(), recipe.methodKey(), where);
        String optName = recipe.train().optimizer().get("name").asText();
        Optimizer<?> optimizer = catalog.find(Kind.OPTIMIZER, optName, Optimizer.class).orElseThrow(() -> new RecipeException(
                where + ": train.optimizer.name '" + optName + "' is not installed; installed: " + names(catalog, Kind.OPTIMIZER)));
        ObjectNode optBlock = ((ObjectNode) recipe.train().optimizer()).deepCopy();
        optBlock.remove(List.of("name", "lr"));
        JsonNode optConfig = bound(loader, optBlock, optimizer.defaultConfig(), optimizer.configType(), "train.optimizer", where);

        ModelConfig config = model != null ? model : ModelConfig.read(ModelLoader.resolve(recipe.model().toString()));
        ModelShape shape = ModelShape.of(config);
        Recipe.Train t = recipe.train();
        Integer maxSeqLen = recipe.data().maxSeqLen();
        // Without data.max_seq_len rows are as long as the data makes them, up to the model's positions: plan for that.
        int seq = maxSeqLen == null || maxSeqLen <= 0 ? shape.maxPositions() : Math.min(maxSeqLen, shape.maxPositions());
        TrainingSetup setup = new TrainingSetup(method(recipe.method(), where), lora(recipe.method(), methodConfig),
                methodConfig.path("reduction_factor").asInt(16), methodConfig.path("num_virtual_tokens").asInt(0),
                t.microBatchSize() == null ? 4 : t.microBatchSize(), // Recipe.Train's defaults
                t.gradientAccumulationSteps() == null ? 1 : t.gradientAccumulationSteps(), seq,
                TrainingSetup.Precision.valueOf(t.precision() == null ? "fp32" : t.precision()),
                optimizer(optName, optConfig), Boolean.TRUE.equals(t.gradientCheckpointing()));
        Set<String> installed = new LinkedHashSet<>();
        for (Kind k : List.of(Kind.METHOD, Kind.OPTIMIZER, Kind.MEMORY)) {
            names(catalog, k).forEach(n -> installed.add(k.name().toLowerCase() + "/" + n));
        }
        return new Input(where, modelName != null ? modelName : recipe.model().toString(), shape, setup,
                t.backend() == null ? "jvm" : t.backend(), installed);
    }

    private static List<String> names(PluginCatalog catalog, Kind kind) {
        return catalog.list(kind).stream().map(PluginCatalog.Entry::name).toList();
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private static JsonNode bound(RecipeLoader loader, JsonNode block, Object defaults, Class type, String path, String where) {
        return JSON.valueToTree(loader.bindConfig(block, defaults, type, path, where));
    }

    private static TrainingSetup.Method method(String name, String where) {
        try {
            return TrainingSetup.Method.valueOf(name);
        } catch (IllegalArgumentException e) {
            throw new RecipeException(where + ": method '" + name + "': the memory planner knows " + Arrays.toString(TrainingSetup.Method.values()));
        }
    }

    /** LoRA's sizes from its bound config: PEFT's keys. */
    private static TrainingSetup.Lora lora(String method, JsonNode c) {
        if (!method.equals("lora") && !method.equals("qlora")) {
            return null;
        }
        JsonNode targets = c.path("target_modules");
        List<String> names = null;
        String regex = null;
        if (targets.isTextual()) {
            regex = targets.asText();
        } else if (targets.isArray()) {
            names = new ArrayList<>();
            for (JsonNode n : targets) {
                names.add(n.asText());
            }
        } else {
            names = LLAMA_LORA_TARGETS;
        }
        int r = c.path("r").asInt(8);
        double alpha = c.path("lora_alpha").asDouble(c.path("alpha").asDouble(8));
        double scaling = c.path("use_rslora").asBoolean(false) ? alpha / Math.sqrt(r) : alpha / r;
        return new TrainingSetup.Lora(r, names, regex, c.path("lora_dropout").asDouble(c.path("dropout").asDouble(0)), scaling);
    }

    /** The optimizer's options that change its memory, by its plugin's key names. */
    private static TrainingSetup.Optimizer optimizer(String name, JsonNode c) {
        JsonNode beta1 = c.path("beta1");
        return new TrainingSetup.Optimizer(name, c.path("amsgrad").asBoolean(false), c.path("momentum").asDouble(0), c.path("nesterov").asBoolean(false),
                c.path("weight_decay").asDouble(0) != 0, beta1.isNumber() ? beta1.asDouble() : null, c.path("min_8bit_size").asLong(0));
    }
}
