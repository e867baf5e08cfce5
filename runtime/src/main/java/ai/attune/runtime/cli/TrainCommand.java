package ai.attune.runtime.cli;

import ai.attune.api.model.CausalLM;
import ai.attune.api.nn.DropoutSeeds;
import ai.attune.api.optim.LrSchedule;
import ai.attune.api.spi.Kind;
import ai.attune.api.spi.Method;
import ai.attune.api.spi.MethodContext;
import ai.attune.api.spi.Optimizer;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.runtime.data.DataSpec;
import ai.attune.runtime.data.Example;
import ai.attune.runtime.data.TrainingData;
import ai.attune.runtime.host.AttuneRuntime;
import ai.attune.runtime.host.PluginCatalog;
import ai.attune.runtime.host.RuntimeLayout;
import ai.attune.runtime.model.LoadedModel;
import ai.attune.runtime.model.ModelLoader;
import ai.attune.runtime.train.Progress;
import ai.attune.runtime.train.Recipe;
import ai.attune.runtime.train.RecipeException;
import ai.attune.runtime.train.RecipeLoader;
import ai.attune.runtime.train.RunDirectory;
import ai.attune.runtime.train.TrainingRun;
import com.fasterxml.jackson.databind.node.ObjectNode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** {@code attune train}: run a recipe, or resume a run from its latest checkpoint. */
@Command(name = "train", description = "Fine-tune a model as a recipe says; --resume continues a run from its latest checkpoint.")
public final class TrainCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", arity = "0..1", paramLabel = "RECIPE.yaml", description = "The recipe (optional with --resume: the run's own copy is used).")
    Path recipeFile;

    @Option(names = "--set", paramLabel = "KEY=VALUE", description = "Override a recipe key, e.g. --set train.max_steps=10. Repeatable.")
    List<String> overrides = new ArrayList<>();

    @Option(names = "--resume", paramLabel = "RUN_DIR", description = "Continue the run in RUN_DIR from its latest checkpoint.")
    Path resume;

    @Override
    public void run() {
        if (recipeFile == null && resume == null) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "give a RECIPE.yaml, or --resume RUN_DIR");
        }
        RecipeLoader loader = new RecipeLoader();
        try (AttuneRuntime rt = AttuneRuntime.boot(RuntimeLayout.fromSystem()); Scope job = Scope.open("job")) {
            PluginCatalog catalog = rt.plugins();
            List<String> methods = catalog.list(Kind.METHOD).stream().map(PluginCatalog.Entry::name).toList();
            Path source;
            ObjectNode tree;
            RunDirectory runDir;
            if (resume != null) {
                RunDirectory existing = new RunDirectory(resume);
                Path stored = resume.resolve("recipe.yaml");
                tree = loader.read(stored, overrides);
                if (recipeFile != null && !loader.read(recipeFile, overrides).equals(tree)) {
                    throw new RecipeException(resume + " holds a different run than " + recipeFile + "; resume it without a recipe, or start a new output");
                }
                source = stored;
                runDir = existing;
            } else {
                tree = loader.read(recipeFile, overrides);
                source = recipeFile;
                runDir = null;
            }
            Recipe recipe = loader.bind(source, tree, methods);
            if (runDir == null) {
                runDir = new RunDirectory(recipe.output());
                runDir.create(loader.toYaml(tree));
            }
            train(loader, catalog, recipe, runDir, job);
        } catch (IOException e) {
            throw new UncheckedIOException(e.getMessage(), e);
        }
    }

    private List<Example> load(Path file, DataSpec dataSpec, ai.attune.runtime.text.Tokenizer tok, CausalLM lm) throws IOException {
        TrainingData data = TrainingData.load(file, dataSpec, tok, lm.vocabSize(), lm.maxPositions());
        data.log().forEach(line -> spec.commandLine().getErr().println("data: " + file.getFileName() + ": " + line));
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

    @SuppressWarnings("unchecked")
    private void train(RecipeLoader loader, PluginCatalog catalog, Recipe recipe, RunDirectory runDir, Scope job) throws IOException {
        String where = recipe.source().getFileName().toString();
        ModelLoader models = new ModelLoader(catalog);
        Path modelDir = ModelLoader.resolve(recipe.model().toString());
        LoadedModel m = models.load(modelDir, null, models.backend(null), DType.F32, job);
        try (var tok = m.tokenizer()) {
            if (!(m.module() instanceof CausalLM lm)) {
                throw new RecipeException(where + ": model " + modelDir + " is not a causal language model");
            }
            Method<Object> method = catalog.find(Kind.METHOD, recipe.method(), Method.class).orElseThrow();
            Object methodConfig = loader.bindConfig(recipe.methodConfig(), method.defaultConfig(), method.configType(), recipe.method(), where);
            String optName = recipe.train().optimizer().get("name").asText();
            Optimizer<Object> optimizer = catalog.find(Kind.OPTIMIZER, optName, Optimizer.class).orElseThrow(() -> new RecipeException(
                    where + ": train.optimizer.name '" + optName + "' is not installed; installed: "
                            + catalog.list(Kind.OPTIMIZER).stream().map(PluginCatalog.Entry::name).toList()));
            ObjectNode optBlock = ((ObjectNode) recipe.train().optimizer()).deepCopy();
            optBlock.remove(List.of("name", "lr"));
            Object optConfig = loader.bindConfig(optBlock, optimizer.defaultConfig(), optimizer.configType(), "train.optimizer", where);
            double lr = recipe.train().optimizer().get("lr").asDouble();

            Recipe.Data d = recipe.data();
            DataSpec dataSpec = dataSpec(d, d.format(), where);
            List<Example> train = load(d.path(), dataSpec, tok, lm);
            List<Example> eval = d.evalPath() == null ? List.of() : load(d.evalPath(), dataSpec, tok, lm);
            List<Example> general = d.generalEvalPath() == null ? List.of()
                    : load(d.generalEvalPath(), dataSpec(new Recipe.Data("text", d.generalEvalPath(), null, null, false, d.maxSeqLen(), true, false, null), "text", where), tok, lm);

            Recipe.Train t = recipe.train();
            int mb = t.microBatchSize() == null ? 4 : t.microBatchSize();
            int ga = t.gradientAccumulationSteps() == null ? 1 : t.gradientAccumulationSteps();
            long steps = t.maxSteps() != null ? t.maxSteps() : (long) Math.ceil(t.epochs() * train.size() / (double) (mb * ga));
            String scheduleName = t.schedule() == null || t.schedule().name() == null ? "linear" : t.schedule().name();
            int warmup = t.schedule() == null || t.schedule().warmupSteps() == null ? 0 : t.schedule().warmupSteps();
            LrSchedule schedule;
            try {
                schedule = LrSchedule.of(scheduleName, lr, warmup, (int) steps);
            } catch (IllegalArgumentException e) {
                throw new RecipeException(where + ": train.schedule.name: " + e.getMessage());
            }
            long seed = t.seed() == null ? 0 : t.seed();
            MethodContext ctx = new MethodContext(m.backend(), DType.F32, job, seed, new DropoutSeeds(seed), modelDir);
            TrainingRun.Setup setup = new TrainingRun.Setup(lm, method, methodConfig, optimizer, optConfig, schedule, ctx, mb, ga, steps,
                    recipe.data().shuffle() == null || recipe.data().shuffle(), t.maxGradNorm() == null ? 1.0 : t.maxGradNorm(),
                    t.evalEvery() == null ? 0 : t.evalEvery(), t.saveEvery() == null ? 0 : t.saveEvery());
            try (Progress progress = new Progress(steps, spec.commandLine().getErr())) {
                TrainingRun.Result r = new TrainingRun(setup, train, eval, general, runDir, progress).run(resume != null);
                PrintWriter out = spec.commandLine().getOut();
                out.printf("trained %d steps: loss %.4f%s%s; output %s%n", r.steps(), r.lastLoss(),
                        r.evalLoss() == null ? "" : String.format(", eval ppl %.3f", Math.exp(r.evalLoss())),
                        r.generalPplAfter() == null || r.generalPplBefore() == null ? ""
                                : String.format(", general ppl %.3f -> %.3f", r.generalPplBefore(), r.generalPplAfter()),
                        runDir.finalOutput());
                out.flush();
            }
        }
    }

}
