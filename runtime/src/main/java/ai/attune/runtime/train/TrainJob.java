package ai.attune.runtime.train;

import ai.attune.api.data.Example;
import ai.attune.api.data.Sample;
import ai.attune.api.model.CausalLM;
import ai.attune.api.nn.DropoutSeeds;
import ai.attune.api.nn.Module;
import ai.attune.api.optim.LrSchedule;
import ai.attune.api.spi.DataFormat;
import ai.attune.api.spi.Kind;
import ai.attune.api.spi.MemoryStrategy;
import ai.attune.api.spi.Method;
import ai.attune.api.spi.MethodContext;
import ai.attune.api.spi.Optimizer;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.text.TextTokenizer;
import ai.attune.runtime.data.DataFormats;
import ai.attune.runtime.data.DataSpec;
import ai.attune.runtime.data.TrainingData;
import ai.attune.runtime.host.PluginCatalog;
import ai.attune.runtime.model.LoadedModel;
import ai.attune.runtime.model.ModelLoader;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * A training job as the command line and the lab server run it: the recipe bound against the
 * installed plugins, then the model, data, method, optimizer and schedule assembled from the
 * registry and handed to {@link TrainingRun}. A new run's directory is created only once all of
 * that has loaded, so bad input leaves nothing behind that would block the corrected re-run.
 */
public final class TrainJob {
    /**
     * A bound recipe with its run directory, checked before any expensive work; a new run's
     * directory does not exist yet and is created with {@code recipeYaml} (null when resuming).
     */
    public record Prepared(Recipe recipe, RunDirectory runDir, boolean resume, String recipeYaml) {}

    /** The format general-eval text ({@code data.general_eval_path}) is read in: plain text, whatever the training data's format. */
    static final String GENERAL_FORMAT = "text";

    private final PluginCatalog catalog;
    private final PrintWriter log;
    private final RecipeLoader loader = new RecipeLoader();

    /** {@code log} receives what the data readers changed (dedup, truncation), one line each. */
    public TrainJob(PluginCatalog catalog, PrintWriter log) {
        this.catalog = catalog;
        this.log = log;
    }

    private ai.attune.api.dist.ProcessGroup group = ai.attune.api.dist.ProcessGroup.single();

    /** Runs as one rank of a data-parallel group: every rank prepares and loads alike, only rank 0 writes the run. */
    public TrainJob dataParallel(ai.attune.api.dist.ProcessGroup group) {
        this.group = group;
        return this;
    }

    private RunDirectory runDirectory(Path dir) {
        return group.rank() == 0 ? new RunDirectory(dir) : RunDirectory.follower(dir);
    }

    /**
     * Binds a recipe tree. With {@code resumeDir} the run's own recipe is used ({@code tree} may be
     * null, or must equal it); otherwise the recipe's output is checked to be free for a new run
     * but not created: {@link #run} does that once everything the recipe names has loaded.
     */
    public Prepared prepare(Path source, ObjectNode tree, Path resumeDir) throws IOException {
        Map<String, String> methods = RecipeLoader.methodBlocks(catalog);
        if (resumeDir != null) {
            Path stored = resumeDir.resolve(RunDirectory.RECIPE);
            ObjectNode own = loader.read(stored, List.of());
            if (tree != null && !tree.equals(own)) {
                throw new RecipeException(resumeDir + " holds a different run than " + source + "; resume it without a recipe, or start a new output");
            }
            Recipe recipe = loader.bind(stored, own, methods);
            plugins(recipe);
            return new Prepared(recipe, runDirectory(resumeDir), true, null);
        }
        String asked = tree.path("method").asText("");
        if (!methods.containsKey(asked) && catalog.list(Kind.CLASSIFIER).stream().anyMatch(e -> e.name().equals(asked))) {
            throw new RecipeException(source.getFileName() + ": method '" + asked + "' trains a classifier: run it with 'attune train "
                    + source.getFileName() + "'; jobs here run language-model methods " + methods.keySet());
        }
        Recipe recipe = loader.bind(source, tree, methods);
        plugins(recipe); // a bad plugin block is refused here, before a run directory exists
        if (recipe.train().backendOrJvm().equals("torch")) {
            try {
                new ModelLoader(catalog).backend("torch"); // refused here, with its reason, before a run directory exists
            } catch (IllegalArgumentException | IllegalStateException e) {
                throw new RecipeException(source.getFileName() + ": train.backend: " + e.getMessage());
            }
        }
        RunDirectory runDir = runDirectory(recipe.output());
        try {
            runDir.checkNew(); // an output holding a run is refused before minutes go into loading
        } catch (RecipeException e) {
            throw new RecipeException(source.getFileName() + ": " + e.getMessage());
        }
        return new Prepared(recipe, runDir, false, loader.toYaml(tree));
    }

    /**
     * Loads everything the recipe names into {@code job} (the model, its tokenizer, every data file
     * parsed to its end, the method, optimizer and precision plugins), creates a new run's directory,
     * and runs it to the end (or until {@code control} stops it).
     */
    @SuppressWarnings("unchecked")
    public TrainingRun.Result run(Prepared p, Scope job, Consumer<ObjectNode> progress, StepControl control) throws IOException {
        Recipe recipe = p.recipe();
        String where = recipe.source().getFileName().toString();
        ModelLoader models = new ModelLoader(catalog);
        Path modelDir = ModelLoader.resolve(recipe.model().toString());
        String backend = recipe.train().backendOrJvm();
        Plugins plugins = plugins(recipe);
        LoadedModel m = models.load(modelDir, null, backend.equals("auto") ? models.fastest(log) : models.backend(backend), DType.F32, job,
                plugins.quantization());
        try (var tok = m.tokenizer()) {
            if (!(m.module() instanceof CausalLM lm)) {
                throw new RecipeException(where + ": model " + modelDir + " is not a causal language model");
            }
            Recipe.Data d = recipe.data();
            DataSpec dataSpec = plugins.dataSpec();
            List<Example> train = load(d.path(), dataSpec, plugins.dataFormat(), tok, lm);
            List<Example> eval = d.evalPath() == null ? List.of() : load(d.evalPath(), dataSpec, plugins.dataFormat(), tok, lm);
            List<Example> general = d.generalEvalPath() == null ? List.of()
                    : load(d.generalEvalPath(), dataSpec(new Recipe.Data(GENERAL_FORMAT, d.generalEvalPath(), null, null, false, d.maxSeqLen(), true, false, null),
                    GENERAL_FORMAT, where), plugins.generalFormat(), tok, lm);

            TrainingRun.Setup setup = setup(recipe.train(), recipe.method(), plugins.training(), lm, m.backend(), job, modelDir, tok, train.size(),
                    d.shuffleOn(), where);
            return new TrainingRun(setup, train, eval, general, p.runDir(), progress, control).dataParallel(group).profile(recipe.train().profiled())
                    .run(p.resume(), () -> begin(p));
        }
    }

    /**
     * A run of a recipe's {@code train:} block and method over a model already loaded into
     * {@code job} and examples already tokenized, taken in their order, that writes nothing: no run
     * directory, events, checkpoints or final output. The method's block ({@code null}: its
     * defaults) and the optimizer's keys bind as a recipe's do and absent keys take the recipe's
     * defaults ({@code max_grad_norm} 1.0, a linear schedule, seed 0), so the steps are those
     * {@code attune train} takes; {@code attune bench --method} times them. {@code where} begins
     * error messages, as a recipe's file name does; {@code modelDir} holds the model's config.json.
     */
    public TrainingRun inMemory(String where, String method, JsonNode methodBlock, Recipe.Train train, CausalLM lm, Backend be, Path modelDir,
                                Scope job, List<Example> examples, Consumer<ObjectNode> progress, StepControl control) {
        RecipeLoader.validateTrain(where, train);
        Training training = training(method, methodBlock, RecipeLoader.methodBlocks(catalog).getOrDefault(method, method), train, where);
        TrainingRun.Setup setup = setup(train, method, training, lm, be, job, modelDir, null, examples.size(), false, where);
        return new TrainingRun(setup, examples, List.of(), List.of(), RunDirectory.none(), progress, control).dataParallel(group)
                .profile(train.profiled());
    }

    /** The loop's setup from a {@code train:} block: steps, schedule, seeds and memory strategies as a recipe gives them. */
    private TrainingRun.Setup setup(Recipe.Train t, String methodName, Training training, CausalLM lm, Backend be, Scope job, Path modelDir,
                                    TextTokenizer tok, int examples, boolean shuffle, String where) {
        int mb = t.microBatch();
        int ga = t.accumulation();
        long steps = t.maxSteps() != null ? t.maxSteps() : (long) Math.ceil(t.epochs() * examples / ((double) mb * ga));
        if (steps > Integer.MAX_VALUE) {
            throw new RecipeException(where + ": train.epochs " + t.epochs() + " over " + examples + " examples makes more steps than a run can count");
        }
        LrSchedule schedule = schedule(training, t, steps, where);
        long seed = t.seedOr0();
        MethodContext ctx = new MethodContext(be, DType.F32, job, seed, new DropoutSeeds(seed), modelDir, tok);
        return new TrainingRun.Setup(lm, training.method(), training.methodConfig(), training.optimizer(), training.optimizerConfig(),
                schedule, ctx, mb, ga, steps, shuffle, t.clip(), t.evalEvery() == null ? 0 : t.evalEvery(), t.saveEvery() == null ? 0 : t.saveEvery(),
                memory(t, lm.module(), be, where), methodName);
    }

    /** The recipe's schedule over its lr, or null (with a line on the log) when the optimizer computes its own step size. */
    private LrSchedule schedule(Training training, Recipe.Train t, long steps, String where) {
        if (training.lr() == null) {
            log.println("train: train.schedule is ignored: " + t.optimizer().get("name").asText() + " computes its own step size (train.optimizer.lr is null)");
            log.flush();
            return null;
        }
        String scheduleName = t.schedule() == null || t.schedule().name() == null ? "linear" : t.schedule().name();
        int warmup = t.schedule() == null || t.schedule().warmupSteps() == null ? 0 : t.schedule().warmupSteps();
        try {
            return LrSchedule.of(scheduleName, training.lr(), warmup, (int) steps);
        } catch (IllegalArgumentException e) {
            throw new RecipeException(where + ": train.schedule: " + e.getMessage());
        }
    }

    /** Creates a new run's directory; reached only once the model, data and plugins have loaded and the method is applied. */
    private void begin(Prepared p) throws IOException {
        if (!p.resume() && p.runDir().create(p.recipeYaml())) {
            log.println("train: " + p.runDir().path() + " held a run that stopped before its first checkpoint; starting it afresh");
            log.flush();
        }
    }

    /**
     * The method and optimizer of a run with their blocks bound to the plugins' config types;
     * {@code lr} is null when the optimizer computes its own step size.
     */
    record Training(Method<Object> method, Object methodConfig, Optimizer<Object> optimizer, Object optimizerConfig, Double lr) {}

    /**
     * The recipe's method and optimizer, its data spec and format, the format its general-eval text
     * is read in (null without one), and the quantization its base loads with (or null).
     */
    record Plugins(Training training, DataSpec dataSpec, DataFormat<Sample> dataFormat, DataFormat<Sample> generalFormat,
                   ModelLoader.Quantization quantization) {}

    /** Binds every plugin block of a recipe against the installed plugins; a wrong key is a {@link RecipeException} naming it. */
    Plugins plugins(Recipe recipe) {
        String where = recipe.source().getFileName().toString();
        Training training = training(recipe.method(), recipe.methodConfig(), recipe.methodKey(), recipe.train(), where);
        Recipe.Data d = recipe.data();
        DataSpec spec = dataSpec(d, d.format(), where);
        DataFormat<Sample> format = dataFormat(d.format(), "data.format", where);
        DataFormat<Sample> general = d.generalEvalPath() == null ? null
                : dataFormat(GENERAL_FORMAT, "data.general_eval_path (plain text): format", where);
        ModelLoader.Quantization quantization = QuantizationBlock.bind(recipe.quantization(), catalog, loader, where);
        return new Plugins(training, spec, format, general, quantization);
    }

    /** The method {@code method} with its block (under the recipe key {@code methodKey}) and the optimizer of {@code t}, bound. */
    @SuppressWarnings("unchecked")
    private Training training(String methodName, JsonNode methodBlock, String methodKey, Recipe.Train t, String where) {
        Method<Object> method = catalog.find(Kind.METHOD, methodName, Method.class).orElseThrow(() -> new RecipeException(
                where + ": method '" + methodName + "' is not installed; installed: "
                        + catalog.list(Kind.METHOD).stream().map(PluginCatalog.Entry::name).toList()));
        Object methodConfig = loader.bindConfig(methodBlock, method.defaultConfig(), method.configType(), methodKey, where);
        String optName = t.optimizer().get("name").asText();
        Optimizer<Object> optimizer = catalog.find(Kind.OPTIMIZER, optName, Optimizer.class).orElseThrow(() -> new RecipeException(
                where + ": train.optimizer.name '" + optName + "' is not installed; installed: "
                        + catalog.list(Kind.OPTIMIZER).stream().map(PluginCatalog.Entry::name).toList()));
        ObjectNode optBlock = ((ObjectNode) t.optimizer()).deepCopy();
        optBlock.remove(List.of("name", "lr"));
        Object optConfig = loader.bindConfig(optBlock, optimizer.defaultConfig(), optimizer.configType(), "train.optimizer", where);
        Double lr = lr(t.optimizer().get("lr"), optimizer.ownsLearningRate(optConfig), optName, where);
        return new Training(method, methodConfig, optimizer, optConfig, lr);
    }

    /** The installed data format {@code name}; one that is not is refused with the installed ones. */
    private DataFormat<Sample> dataFormat(String name, String key, String where) {
        try {
            return DataFormats.find(catalog, name, key);
        } catch (IllegalArgumentException e) {
            throw new RecipeException(where + ": " + e.getMessage());
        }
    }

    /**
     * The memory strategies the recipe asks for, composed: {@code train.precision} and
     * {@code train.gradient_checkpointing}. Autocast's region encloses the checkpoints, so a block
     * run again in backward computes in the same precision as in forward.
     */
    @SuppressWarnings("unchecked")
    private MemoryStrategy.Session memory(Recipe.Train t, Module model, ai.attune.api.tensor.Backend backend, String where) {
        List<MemoryStrategy.Session> sessions = new java.util.ArrayList<>();
        sessions.add(precision(precision(t, backend), model, where));
        if (t.checkpointing()) {
            MemoryStrategy<Object> ckpt = catalog.find(Kind.MEMORY, "gradient_checkpointing", MemoryStrategy.class).orElseThrow(() -> new RecipeException(
                    where + ": train.gradient_checkpointing needs the gradient_checkpointing memory plugin; installed: "
                            + catalog.list(Kind.MEMORY).stream().map(PluginCatalog.Entry::name).toList()));
            sessions.add(ckpt.apply(model, ckpt.defaultConfig()));
            log.println("train: gradient checkpointing: each block keeps only its input and runs again in backward");
        }
        return MemoryStrategy.Session.compose(sessions);
    }

    /**
     * The recipe's lr: every optimizer needs one, except one that computes its own step size under
     * its config, which must not be given one (it would be silently unused).
     */
    private static Double lr(JsonNode node, boolean ownStepSize, String optName, String where) {
        boolean given = node != null && !node.isNull();
        if (ownStepSize && given) {
            throw new RecipeException(where + ": key 'train.optimizer.lr' must be null: " + optName
                    + " computes its own step size with the settings in train.optimizer (turn that off there to give an lr)");
        }
        if (!ownStepSize && !given) {
            throw new RecipeException(where + ": missing key 'train.optimizer.lr': " + optName + " takes its step size from it, e.g. {name: "
                    + optName + ", lr: 2e-4}");
        }
        return given ? node.asDouble() : null;
    }

    /**
     * The recipe's {@code train.precision}; when it names none, bf16 on a backend that multiplies
     * bf16 natively on this CPU (the torch backend with AVX512-BF16 or AMX), said in one line, and
     * fp32 elsewhere.
     */
    private String precision(Recipe.Train t, ai.attune.api.tensor.Backend backend) {
        if (t.precision() != null || backend.preferredAutocastDType() != DType.BF16) {
            return t.precisionOrFp32();
        }
        log.println("train: bf16 mixed precision (train.precision is not set, and the " + backend.name()
                + " backend multiplies bf16 natively on this CPU); set train.precision: fp32 to train in f32");
        log.flush();
        return "bf16";
    }

    /**
     * {@code train.precision}: fp32 trains as it is; bf16 and fp16 install the mixed-precision
     * memory strategy plugin (autocast products over f32 master weights; loss scaling for fp16).
     */
    @SuppressWarnings("unchecked")
    private MemoryStrategy.Session precision(String precision, Module model, String where) {
        if (precision.equals("fp32")) {
            return new MemoryStrategy.Session() { };
        }
        if (!precision.equals("bf16") && !precision.equals("fp16")) {
            throw new RecipeException(where + ": train.precision must be fp32, bf16 or fp16, got '" + precision + "'");
        }
        MemoryStrategy<Object> mixed = catalog.find(Kind.MEMORY, "mixed_precision", MemoryStrategy.class).orElseThrow(() -> new RecipeException(
                where + ": train.precision " + precision + " needs the mixed_precision memory plugin; installed: "
                        + catalog.list(Kind.MEMORY).stream().map(PluginCatalog.Entry::name).toList()));
        Object config = loader.bindConfig(JsonNodeFactory.instance.objectNode().put("dtype", precision), mixed.defaultConfig(), mixed.configType(),
                "train.precision", where);
        log.println("train: " + precision + " mixed precision: products in " + precision + ", weights, gradients and optimizer state in f32");
        return mixed.apply(model, config);
    }

    /** Total optimizer steps a prepared recipe will take, for progress displays; -1 when it depends on the data size. */
    public static long plannedSteps(Prepared p) {
        return p.recipe().train().maxSteps() == null ? -1 : p.recipe().train().maxSteps();
    }

    private List<Example> load(Path file, DataSpec dataSpec, DataFormat<Sample> format, TextTokenizer tok, CausalLM lm) throws IOException {
        TrainingData data = TrainingData.load(file, dataSpec, format, tok, lm.vocabSize(), lm.maxPositions());
        data.log().forEach(line -> log.println("data: " + file.getFileName() + ": " + line));
        return data.examples();
    }

    private static DataSpec dataSpec(Recipe.Data d, String format, String where) {
        try {
            return new DataSpec(format, d.maxSeqLen() == null ? 0 : d.maxSeqLen(), d.truncate() != null && d.truncate(),
                    d.dedup() != null && d.dedup(), d.balance());
        } catch (IllegalArgumentException e) {
            throw new RecipeException(where + ": data: " + e.getMessage());
        }
    }
}
