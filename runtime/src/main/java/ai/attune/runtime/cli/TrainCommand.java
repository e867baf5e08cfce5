package ai.attune.runtime.cli;

import ai.attune.api.dist.ProcessGroup;
import ai.attune.api.dist.Rendezvous;
import ai.attune.api.spi.ClassifierMethod;
import ai.attune.api.spi.Kind;
import ai.attune.api.tensor.Scope;
import ai.attune.runtime.classify.ClassifierRecipe;
import ai.attune.runtime.host.AttuneRuntime;
import ai.attune.runtime.dist.GlooEngine;
import ai.attune.runtime.dist.RankLauncher;
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
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

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

    @Option(names = "--nproc-per-node", paramLabel = "N",
            description = "Data parallel: start N ranks on this machine, as torchrun does (default: the recipe's train.nproc_per_node, else 1).")
    Integer nprocPerNodeOption;

    int nprocPerNode;

    @Option(names = "--nnodes", defaultValue = "1", paramLabel = "M", description = "Data parallel: machines taking part (default ${DEFAULT-VALUE}).")
    int nnodes;

    @Option(names = "--node-rank", defaultValue = "0", paramLabel = "R", description = "Data parallel: this machine's index, 0 to M-1 (default ${DEFAULT-VALUE}).")
    int nodeRank;

    @Option(names = "--master-addr", defaultValue = "127.0.0.1", paramLabel = "HOST",
            description = "Data parallel: the address of node 0, where rank 0 hosts the rendezvous (default ${DEFAULT-VALUE}).")
    String masterAddr;

    @Option(names = "--master-port", paramLabel = "PORT",
            description = "Data parallel: the rendezvous port (default: a free port on one machine, 29500 across machines, as torchrun).")
    Integer masterPort;

    @Option(names = "--threads-per-rank", paramLabel = "T", description = "Data parallel: kernel threads per rank (default: this machine's cores / N).")
    Integer threadsPerRank;

    @Option(names = "--timeout", defaultValue = "60", paramLabel = "SECONDS",
            description = "Data parallel: how long a rank waits for the others (rendezvous, each collective) before it fails (default ${DEFAULT-VALUE}).")
    int timeoutSeconds;

    @Override
    public void run() {
        if (recipeFile == null && resume == null) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "give a RECIPE.yaml, or --resume RUN_DIR");
        }
        nprocPerNode = nprocPerNodeOption != null ? nprocPerNodeOption : recipeRanks();
        checkDataParallelOptions();
        Optional<Rendezvous> rendezvous = Rendezvous.fromEnvironment(System.getenv());
        if (rendezvous.isEmpty() && nprocPerNode * nnodes > 1) {
            launchRanks();
            return;
        }
        try (AttuneRuntime rt = AttuneRuntime.boot(RuntimeLayout.fromSystem()); Scope job = Scope.open("job")) {
            ObjectNode tree = recipeFile == null ? null : new RecipeLoader().read(recipeFile, overrides);
            String method = tree == null ? null : tree.path("method").asText(null);
            if (method != null && resume == null && rt.plugins().find(Kind.CLASSIFIER, method, ClassifierMethod.class).isPresent()) {
                if (rendezvous.isPresent()) {
                    throw new IllegalArgumentException("method " + method + " trains a classifier in one process; data-parallel ranks run "
                            + "language-model methods");
                }
                ClassifierRecipe.bind(recipeFile, tree, method).run(rt.plugins(), spec.commandLine().getOut(), spec.commandLine().getErr());
                return;
            }
            try (ProcessGroup group = rendezvous.isPresent() ? join(rt, rendezvous.get()) : ProcessGroup.single()) {
                TrainJob trainJob = new TrainJob(rt.plugins(), spec.commandLine().getErr()).dataParallel(group);
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
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e.getMessage(), e);
        }
    }

    /** The recipe's (or the resumed run's) {@code train.nproc_per_node}, read before anything boots; 1 if absent or unreadable. */
    private int recipeRanks() {
        try {
            Path file = recipeFile != null ? recipeFile : resume.resolve("recipe.yaml");
            ObjectNode tree = new RecipeLoader().read(file, recipeFile != null ? overrides : List.of());
            return tree.path("train").path("nproc_per_node").asInt(1);
        } catch (RuntimeException | IOException e) {
            return 1; // the recipe's own error is reported when it is bound
        }
    }

    private void checkDataParallelOptions() {
        if (nprocPerNode < 1 || nnodes < 1 || nodeRank < 0 || nodeRank >= nnodes) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(),
                    "--nproc-per-node and --nnodes must be at least 1, and --node-rank in [0, --nnodes)");
        }
        if (timeoutSeconds < 1 || threadsPerRank != null && threadsPerRank < 1 || masterPort != null && (masterPort < 1 || masterPort > 65535)) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--timeout and --threads-per-rank must be at least 1, --master-port in [1, 65535]");
        }
    }

    /** This process starts the node's ranks (each one this command again, with torchrun's environment) and watches them. */
    private void launchRanks() {
        int port = masterPort != null ? masterPort : nnodes == 1 ? RankLauncher.freePort(masterAddr) : 29500;
        int threads = threadsPerRank != null ? threadsPerRank : Math.max(1, Runtime.getRuntime().availableProcessors() / nprocPerNode);
        List<String> args = new ArrayList<>(List.of("train"));
        if (recipeFile != null) {
            args.add(recipeFile.toString());
        }
        overrides.forEach(o -> args.addAll(List.of("--set", o)));
        if (resume != null) {
            args.addAll(List.of("--resume", resume.toString()));
        }
        args.addAll(List.of("--timeout", Integer.toString(timeoutSeconds)));
        new RankLauncher(new RankLauncher.Plan(nprocPerNode, nnodes, nodeRank, masterAddr, port, threads, args), spec.commandLine().getErr()).run();
    }

    /** Joins the group the environment describes, on the installed Gloo engine. */
    private ProcessGroup join(AttuneRuntime rt, Rendezvous r) {
        return GlooEngine.join(rt.plugins(), r.withTimeout(Duration.ofSeconds(timeoutSeconds)), "data-parallel training");
    }
}
