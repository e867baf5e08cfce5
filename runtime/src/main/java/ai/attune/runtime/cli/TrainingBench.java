package ai.attune.runtime.cli;

import ai.attune.api.autograd.Autograd;
import ai.attune.api.data.Example;
import ai.attune.api.dist.ProcessGroup;
import ai.attune.api.model.CausalLM;
import ai.attune.api.nn.LinearLayer;
import ai.attune.api.nn.Module;
import ai.attune.api.nn.Parameter;
import ai.attune.api.spi.Kind;
import ai.attune.api.spi.Optimizer;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.BlockPool;
import ai.attune.api.tensor.OpProfile;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Shape;
import ai.attune.runtime.host.PluginCatalog;
import ai.attune.runtime.train.ProfileTable;
import ai.attune.runtime.train.Recipe;
import ai.attune.runtime.train.RecipeLoader;
import ai.attune.runtime.train.StepControl;
import ai.attune.runtime.train.TrainJob;
import ai.attune.runtime.train.TrainingRun;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.function.Consumer;

/**
 * Training throughput of the loop {@code attune train} runs: {@link TrainingRun}, built by
 * {@link TrainJob#inMemory} from a {@code train:} block as a recipe's is bound (gradient clipping
 * at 1.0, a linear schedule from lr 1e-4, the memory strategies of {@code train.precision} and
 * {@code train.gradient_checkpointing}, the optimizer plugin), over random tokens of batch x seq
 * with the method's and the optimizer's default configs. One warm-up step, then the timed steps,
 * each from the boundary before it to its {@code step} event; nothing is written to disk.
 *
 * <p>Reported: tokens/s and the median step, peak RSS, the tensor service's peak, the bytes of
 * optimizer state the steps leave and of 4-bit weights, and model FLOPs utilisation: 6 FLOPs per
 * parameter per token for full fine-tuning and 4 for frozen-base methods (no weight gradients),
 * against the measured FMA peak. With {@code profile} the timed steps run under an
 * {@link OpProfile} and its table follows the JSON line (and is in it, as {@code profile}).
 */
final class TrainingBench {
    /** Steps taken before the timed ones: the JIT's first compilations and first-call allocations are no step's cost. */
    static final int WARM_UP_STEPS = 1;
    /** The lr of every optimizer that takes one; the peer scripts use the same. */
    static final double LR = 1e-4;

    /** What to time: the method and optimizer by plugin name, precision as {@code train.precision}, batch x seq tokens per step. */
    record Options(String method, String optimizer, String precision, boolean checkpointing, int batch, int seq, int steps, boolean profile) {}

    /**
     * A measurement: the lines describing it, the JSON line's fields (callers may add theirs before
     * printing), the profile of the timed steps (or null), the loss of the last step and the tokens
     * of a sequence (the requested length, or the model's longest).
     */
    record Measured(String header, ObjectNode json, ProfileTable profile, double lastLoss, int seq) {
        /** This measurement with one more line before its JSON line. */
        Measured withLine(String line) {
            return new Measured(header + System.lineSeparator() + line, json, profile, lastLoss, seq);
        }


        void print(PrintWriter out) {
            out.println(header);
            out.println(json);
            if (profile != null) {
                out.print(profile.format());
            }
            out.flush();
        }
    }

    private final PluginCatalog catalog;
    private final Backend be;
    private final PrintWriter log;

    /** {@code log} receives what the run's set-up reports (mixed precision, checkpointing), one line each. */
    TrainingBench(PluginCatalog catalog, Backend be, PrintWriter log) {
        this.catalog = catalog;
        this.be = be;
        this.log = log;
    }

    /**
     * Times the steps in this process, or as one rank of {@code group}: then every rank draws the
     * same global batches of {@code batch} sequences and trains its round-robin share of
     * {@code batch / world} of them, as {@code attune train --nproc-per-node} does.
     */
    Measured run(BenchCommand.Named named, Options o, ProcessGroup group) throws IOException {
        if (!(named.module() instanceof CausalLM lm)) {
            throw new IllegalArgumentException(named.name() + " is not a causal language model");
        }
        int world = group.worldSize();
        if (o.batch() % world != 0) {
            throw new IllegalArgumentException("--batch " + o.batch() + " is the global batch; it must divide among " + world + " ranks");
        }
        int len = Math.min(o.seq(), lm.maxPositions());
        List<Example> examples = randomTokens(lm.vocabSize(), o.batch(), len, WARM_UP_STEPS + o.steps());
        Recipe.Train train = trainBlock(o, o.batch() / world);
        Stopwatch watch = new Stopwatch(o.steps(), o.profile());
        BlockPool.resetPeak();
        TrainingRun.Result result;
        try {
            // The method's adapters and the optimizer state live in the model's scope, as a job's do.
            TrainingRun loop = new TrainJob(catalog, log).dataParallel(group).inMemory("attune bench", o.method(), null, train, lm, be, named.dir(), Scope.current(),
                    examples, watch, watch);
            result = loop.run(false);
        } finally {
            watch.close();
        }
        Module module = lm.module();
        long total = 0;
        long trained = 0;
        for (Parameter p : module.namedParameters().values()) {
            total += p.value().numel();
            trained += p.trainable() ? p.value().numel() : 0;
        }
        long quantizedBytes = 0;
        for (Module m : module.namedModules().values()) {
            if (m instanceof LinearLayer l && l.weightSource() != null) {
                total += Shape.numel(l.weightSource().shape()); // a 4-bit base's Linears compute as dense ones do
                quantizedBytes += l.weightSource().storedBytes();
            }
        }
        double[] times = watch.times.clone();
        ProfileTable table = o.profile() ? ProfileTable.of(watch.snapshot, o.steps(), (long) (Arrays.stream(times).sum() * 1e9)) : null;
        Arrays.sort(times);
        int n = times.length;
        double median = n % 2 == 1 ? times[n / 2] : (times[n / 2 - 1] + times[n / 2]) / 2;
        double tokensPerSecond = o.batch() * (double) len / median;
        double flopsPerToken = (trained == total ? 6.0 : 4.0) * total;
        // Read before the FMA peak is measured: its warm-up allocates on the heap and would be counted as the step's memory.
        double rss = BenchCommand.rssMb(BenchCommand.peakRss());
        double peak = be.measurePeakGflops() * world; // each rank measures the cores it computes on
        double mfu = flopsPerToken * tokensPerSecond / (peak * 1e9);
        String header = String.format("train %s with %s and %s in %s%s on %s: %,d parameters, %,d trained; batch %d x %d tokens; "
                        + "%d steps of the training loop after %d warm-up step", named.name(), o.method(), o.optimizer(), o.precision(),
                o.checkpointing() ? " with gradient checkpointing" : "", be.name(), total, trained, o.batch(), len, o.steps(), WARM_UP_STEPS)
                + (world > 1 ? String.format("; %d data-parallel ranks of %d x %d tokens, %d kernel threads per rank", world, o.batch() / world, len,
                Runtime.getRuntime().availableProcessors()) : "");
        ObjectNode json = new ObjectMapper().createObjectNode().put("tokens_per_second", tokensPerSecond).put("step_ms_median", median * 1e3)
                .put("peak_rss_mb", rss).put("tensor_peak_mb", BlockPool.peakBytes() / (1024.0 * 1024.0))
                .put("release_as_you_go", Autograd.releaseAsYouGo()).put("gradient_checkpointing", o.checkpointing()).put("mfu", mfu)
                .put("fma_peak_gflops", peak)
                .put("optimizer_state_bytes", result.optimizerStateBytes()).put("quantized_weight_bytes", quantizedBytes)
                .put("loss", result.lastLoss());
        if (world > 1) {
            double[] reduce = watch.allReduce.clone();
            Arrays.sort(reduce);
            double reduceMedian = n % 2 == 1 ? reduce[n / 2] : (reduce[n / 2 - 1] + reduce[n / 2]) / 2;
            json.put("world_size", world).put("threads_per_rank", Runtime.getRuntime().availableProcessors())
                    .put("all_reduce_ms_median", reduceMedian * 1e3).put("all_reduce_share", reduceMedian / median);
        }
        if (table != null) {
            json.set("profile", table.toJson());
        }
        return new Measured(header, json, table, result.lastLoss(), len);
    }

    /**
     * {@code steps} x {@code batch} sequences of {@code len} uniform token ids, step by step from one
     * seeded generator; each is its own label, as a {@code format: tokens} row without labels.
     */
    static List<Example> randomTokens(int vocab, int batch, int len, int steps) {
        Random r = new Random(0);
        List<Example> out = new ArrayList<>(steps * batch);
        for (int s = 0; s < steps; s++) {
            long[] ids = r.longs((long) batch * len, 0, vocab).toArray(); // [batch, len]
            for (int b = 0; b < batch; b++) {
                long[] row = Arrays.copyOfRange(ids, b * len, (b + 1) * len);
                out.add(new Example(row, row.clone()));
            }
        }
        return out;
    }

    /**
     * The {@code train:} block a recipe would hold for these options: micro-batch {@code microBatch}, no
     * accumulation, the warm-up and timed steps, the optimizer with lr 1e-4 (none for one that
     * computes its own step size), precision and checkpointing; every other key takes its default.
     */
    private Recipe.Train trainBlock(Options o, int microBatch) {
        ObjectMapper json = new ObjectMapper();
        ObjectNode root = json.createObjectNode();
        ObjectNode t = root.putObject("train").put("micro_batch_size", microBatch).put("max_steps", WARM_UP_STEPS + o.steps())
                .put("precision", o.precision()).put("gradient_checkpointing", o.checkpointing());
        ObjectNode optimizer = t.putObject("optimizer").put("name", o.optimizer());
        if (!ownsStepSize(o.optimizer())) {
            optimizer.put("lr", LR);
        }
        return new RecipeLoader().bindBlock(root, "train", Recipe.Train.class, "attune bench");
    }

    /** Whether the optimizer computes its own step size under its default config; one not installed is refused by the run itself. */
    @SuppressWarnings("unchecked")
    private boolean ownsStepSize(String name) {
        return catalog.find(Kind.OPTIMIZER, name, Optimizer.class).map(opt -> {
            Optimizer<Object> o = (Optimizer<Object>) opt;
            return o.ownsLearningRate(o.defaultConfig());
        }).orElse(false);
    }

    /**
     * Times the steps after the warm-up from the run's step boundaries: a step starts when the loop
     * asks to take it and ends with its {@code step} event. Profiles them when asked.
     */
    private static final class Stopwatch implements StepControl, Consumer<ObjectNode>, AutoCloseable {
        private final double[] times;
        /** Per timed step, in data-parallel runs: the seconds it waited for the all-reduce after its backward. */
        private final double[] allReduce;
        private final boolean profile;
        private boolean recording;
        private long started;
        OpProfile.Snapshot snapshot;

        Stopwatch(int steps, boolean profile) {
            this.times = new double[steps];
            this.allReduce = new double[steps];
            this.profile = profile;
        }

        @Override
        public boolean beforeStep(long done) {
            if (profile && done == WARM_UP_STEPS && !recording) {
                OpProfile.start(); // the timed steps alone: the warm-up's first-call costs are no step's
                recording = true;
            }
            started = System.nanoTime();
            return true;
        }

        @Override
        public void accept(ObjectNode event) {
            if (!event.path("type").asText().equals("step")) {
                return;
            }
            long step = event.path("step").asLong(); // 1-based
            if (step > WARM_UP_STEPS) {
                times[(int) (step - WARM_UP_STEPS - 1)] = (System.nanoTime() - started) / 1e9;
                allReduce[(int) (step - WARM_UP_STEPS - 1)] = event.path("all_reduce_seconds").asDouble(0);
            }
            if (step == WARM_UP_STEPS + times.length) {
                close();
            }
        }

        /** Stops the recording, also when a step failed, so that none outlives the bench. */
        @Override
        public void close() {
            if (recording) {
                snapshot = OpProfile.stop();
                recording = false;
            }
        }
    }
}
