package ai.attune.runtime.server;

import ai.attune.api.tensor.Scope;
import ai.attune.runtime.host.PluginCatalog;
import ai.attune.runtime.train.StepControl;
import ai.attune.runtime.train.TrainJob;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.function.Consumer;

/**
 * Runs jobs with {@link TrainJob}, looking techniques up in the registry when each job starts; a
 * job whose recipe is a merge config ({@code merge_method}) runs as a {@link MergeJobRunner} merge.
 */
public final class TrainJobRunner implements JobRunner {
    private final Supplier catalog;
    private final PrintWriter log;
    private final MergeJobRunner merges;

    /** The catalog is read anew per job, so a bundle dropped into deploy/ serves the next job. */
    public interface Supplier {
        PluginCatalog get();
    }

    public TrainJobRunner(Supplier catalog, PrintWriter log) {
        this.catalog = catalog;
        this.log = log;
        this.merges = new MergeJobRunner(catalog);
    }

    @Override
    public void create(Path runDir, ObjectNode recipe) throws Exception {
        if (MergeJobRunner.isMerge(recipe)) {
            merges.create(runDir, recipe);
            return;
        }
        // The server's run directory exists from submission on; what is written here is only its recipe.
        TrainJob.Prepared p = new TrainJob(catalog.get(), log).prepare(runDir.resolve("recipe.yaml"), recipe, null);
        p.runDir().create(p.recipeYaml());
    }

    @Override
    public void run(Path runDir, StepControl control, Consumer<ObjectNode> steps) throws Exception {
        if (MergeJobRunner.isMerge(ai.attune.runtime.merge.MergeConfig.read(runDir.resolve(MergeJobRunner.CONFIG)))) {
            merges.run(runDir, control, steps);
            return;
        }
        // Reopening the run directory both starts a new run and continues one from its latest checkpoint.
        TrainJob job = new TrainJob(catalog.get(), log);
        try (Scope scope = Scope.open("job")) {
            job.run(job.prepare(null, null, runDir), scope, steps, control);
        }
    }
}
