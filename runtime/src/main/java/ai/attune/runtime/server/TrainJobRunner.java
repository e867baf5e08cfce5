package ai.attune.runtime.server;

import ai.attune.api.dist.CollectiveException;
import ai.attune.api.dist.ProcessGroup;
import ai.attune.api.dist.ProcessGroupFactory;
import ai.attune.api.dist.Rendezvous;
import ai.attune.api.tensor.Scope;
import ai.attune.runtime.dist.GlooEngine;
import ai.attune.runtime.dist.RankLauncher;
import ai.attune.runtime.host.PluginCatalog;
import ai.attune.runtime.train.StepControl;
import ai.attune.runtime.train.TrainJob;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
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
        TrainJob.Prepared prepared = job.prepare(null, null, runDir);
        int ranks = prepared.recipe().train().ranks();
        if (ranks > 1) {
            runDataParallel(job, runDir, ranks, control, steps);
            return;
        }
        try (Scope scope = Scope.open("job")) {
            job.run(prepared, scope, steps, control);
        }
    }

    /**
     * {@code train.nproc_per_node} > 1: this process is rank 0 (it writes the run, takes the
     * events and the control) and starts the other ranks as processes of the distribution's
     * launcher, each resuming the same run directory as a follower. When a rank fails, the job
     * fails with that rank's own line.
     */
    private void runDataParallel(TrainJob job, Path runDir, int ranks, StepControl control, Consumer<ObjectNode> steps) throws Exception {
        PluginCatalog plugins = catalog.get();
        ProcessGroupFactory gloo = GlooEngine.of(plugins, "train.nproc_per_node");
        String addr = "127.0.0.1";
        int port = RankLauncher.freePort(addr);
        int threads = Math.max(1, Runtime.getRuntime().availableProcessors() / ranks);
        List<String> args = List.of("train", "--resume", runDir.toAbsolutePath().toString(), "--timeout", Long.toString(TIMEOUT.toSeconds()));
        try (RankLauncher followers = new RankLauncher(new RankLauncher.Plan(ranks, 1, 0, addr, port, threads, args), log)) {
            followers.startFollowers();
            try (ProcessGroup group = gloo.join(new Rendezvous(addr, port, 0, ranks, 0, TIMEOUT)); Scope scope = Scope.open("job")) {
                job.dataParallel(group).run(job.prepare(null, null, runDir), scope, steps, control);
            } catch (CollectiveException e) {
                String cause = followers.failure(5_000);
                throw new IllegalStateException(cause != null ? cause : "rank 0: " + e.getMessage(), e);
            }
        }
    }

    /** How long a data-parallel job's ranks wait for each other. */
    private static final java.time.Duration TIMEOUT = java.time.Duration.ofSeconds(60);
}
