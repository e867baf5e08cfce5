package ai.attune.runtime.cli;

import ai.attune.api.spi.ClassifierMethod;
import ai.attune.api.spi.Kind;
import ai.attune.api.tensor.Scope;
import ai.attune.runtime.classify.ClassifierRecipe;
import ai.attune.runtime.host.AttuneRuntime;
import ai.attune.runtime.host.RuntimeLayout;
import ai.attune.runtime.train.Progress;
import ai.attune.runtime.train.RecipeLoader;
import ai.attune.runtime.train.StepControl;
import ai.attune.runtime.train.TrainJob;
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
@Command(name = "train", description = "Fine-tune a model as a recipe says (a language-model method, or a classifier such as setfit); --resume continues a run from its latest checkpoint.")
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
        try (AttuneRuntime rt = AttuneRuntime.boot(RuntimeLayout.fromSystem()); Scope job = Scope.open("job")) {
            ObjectNode tree = recipeFile == null ? null : new RecipeLoader().read(recipeFile, overrides);
            String method = tree == null ? null : tree.path("method").asText(null);
            if (method != null && resume == null && rt.plugins().find(Kind.CLASSIFIER, method, ClassifierMethod.class).isPresent()) {
                ClassifierRecipe.bind(recipeFile, tree, method).run(rt.plugins(), spec.commandLine().getOut(), spec.commandLine().getErr());
                return;
            }
            TrainJob trainJob = new TrainJob(rt.plugins(), spec.commandLine().getErr());
            TrainJob.Prepared prepared = trainJob.prepare(recipeFile, tree, resume);
            try (Progress progress = new Progress(TrainJob.plannedSteps(prepared), spec.commandLine().getErr())) {
                TrainingRun.Result r = trainJob.run(prepared, job, progress, StepControl.NONE);
                PrintWriter out = spec.commandLine().getOut();
                out.printf("trained %d steps: loss %.4f%s%s; output %s%n", r.steps(), r.lastLoss(),
                        r.evalLoss() == null ? "" : String.format(", eval ppl %.3f", Math.exp(r.evalLoss())),
                        r.generalPplAfter() == null || r.generalPplBefore() == null ? ""
                                : String.format(", general ppl %.3f -> %.3f", r.generalPplBefore(), r.generalPplAfter()),
                        prepared.runDir().finalOutput());
                out.flush();
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e.getMessage(), e);
        }
    }
}
