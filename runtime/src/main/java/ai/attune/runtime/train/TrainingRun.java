package ai.attune.runtime.train;

import ai.attune.api.autograd.Autograd;
import ai.attune.api.autograd.F;
import ai.attune.api.autograd.GradMode;
import ai.attune.api.autograd.Ops;
import ai.attune.api.autograd.Views;
import ai.attune.api.data.Example;
import ai.attune.api.dist.ProcessGroup;
import ai.attune.api.model.CausalLM;
import ai.attune.api.nn.Module;
import ai.attune.api.nn.Parameter;
import ai.attune.api.optim.GradClip;
import ai.attune.api.optim.LrSchedule;
import ai.attune.api.spi.MemoryStrategy;
import ai.attune.api.spi.Method;
import ai.attune.api.spi.MethodContext;
import ai.attune.api.spi.Optimizer;
import ai.attune.api.spi.OptimizerState;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.OpProfile;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * One training run: the loop shared by every method and optimizer. Its semantics are pinned so
 * results match an independent PyTorch loop: the loss of a step is the summed token NLL of all its
 * micro-batches divided by the step's target-token count (so accumulation equals the full batch),
 * clipping is {@code clip_grad_norm_} over the trainable parameters, and the schedule is
 * transformers' {@code get_scheduler}.
 *
 * <p>Data parallel ({@link #dataParallel}): each of W ranks takes a share of every step, and the
 * step is the one a single process takes with W times the accumulation. Step s consumes examples
 * [s·G, (s+1)·G) of the data order, G = micro-batch × accumulation × W; rank r's micro-batch k holds
 * those from ((s·A + k)·W + r)·M on, round robin as accelerate deals them, and draws its dropout
 * masks as micro-batch k·W + r of the step. The step's target-token count is summed over the ranks
 * before any loss is divided by it, and the gradients are summed over the ranks
 * ({@link GradientBuckets}) before anything reads them, so clipping, loss scaling and the optimizer
 * see the same numbers on every rank and keep the same state. Only rank 0 writes the run directory:
 * events, checkpoints and {@code final/}, the last only once every rank has finished the last step.
 */
public final class TrainingRun {
    /**
     * What the loop needs, assembled by the caller from the registry and the recipe; {@code schedule}
     * is null when the optimizer computes its own step size under its config.
     */
    public record Setup(CausalLM model, Method<Object> method, Object methodConfig, Optimizer<Object> optimizer, Object optimizerConfig,
                        LrSchedule schedule, MethodContext context, int microBatch, int accumulation, long maxSteps,
                        boolean shuffle, double maxGradNorm, int evalEvery, int saveEvery, MemoryStrategy.Session memory, String methodName) {
        /** A setup whose method reports its metrics as {@code method/method}. */
        public Setup(CausalLM model, Method<Object> method, Object methodConfig, Optimizer<Object> optimizer, Object optimizerConfig,
                     LrSchedule schedule, MethodContext context, int microBatch, int accumulation, long maxSteps,
                     boolean shuffle, double maxGradNorm, int evalEvery, int saveEvery, MemoryStrategy.Session memory) {
            this(model, method, methodConfig, optimizer, optimizerConfig, schedule, context, microBatch, accumulation, maxSteps,
                    shuffle, maxGradNorm, evalEvery, saveEvery, memory, "method");
        }

        /** A setup in full precision, without a memory strategy. */
        public Setup(CausalLM model, Method<Object> method, Object methodConfig, Optimizer<Object> optimizer, Object optimizerConfig,
                     LrSchedule schedule, MethodContext context, int microBatch, int accumulation, long maxSteps,
                     boolean shuffle, double maxGradNorm, int evalEvery, int saveEvery) {
            this(model, method, methodConfig, optimizer, optimizerConfig, schedule, context, microBatch, accumulation, maxSteps,
                    shuffle, maxGradNorm, evalEvery, saveEvery, new MemoryStrategy.Session() { });
        }
    }

    /** How a run ended; {@code optimizerStateBytes} is what the optimizer keeps across steps (moments, step counts). */
    public record Result(long steps, double lastLoss, Double evalLoss, Double generalPplBefore, Double generalPplAfter, long optimizerStateBytes) {}

    private static final com.fasterxml.jackson.databind.ObjectMapper JSON = new com.fasterxml.jackson.databind.ObjectMapper();

    private final Setup s;
    private final List<Example> train;
    private final List<Example> eval;
    private final List<Example> general;
    private final RunDirectory run;
    private final Consumer<ObjectNode> progress;
    private final StepControl control;
    private ProcessGroup group = ProcessGroup.single();
    private boolean profile;
    private boolean recording;
    private OpProfile.Snapshot profiled = new OpProfile.Snapshot(List.of(), 0, 0);
    private long profiledNanos;
    private int profiledSteps;

    public TrainingRun(Setup setup, List<Example> train, List<Example> eval, List<Example> general, RunDirectory run, Consumer<ObjectNode> progress) {
        this(setup, train, eval, general, run, progress, StepControl.NONE);
    }

    public TrainingRun(Setup setup, List<Example> train, List<Example> eval, List<Example> general, RunDirectory run,
                       Consumer<ObjectNode> progress, StepControl control) {
        this.s = setup;
        this.train = train;
        this.eval = eval;
        this.general = general;
        this.run = run;
        this.progress = progress;
        this.control = control;
    }

    /**
     * Trains as one rank of {@code group}; the run directory must write only on rank 0 (a
     * {@link RunDirectory#follower} elsewhere). Every rank must run the same recipe on the same data.
     */
    public TrainingRun dataParallel(ProcessGroup group) {
        this.group = group;
        return this;
    }

    /** Profiles the steps (not evals or checkpoints); the table is logged and written as a {@code profile} event at the end. */
    public TrainingRun profile(boolean on) {
        this.profile = on;
        return this;
    }

    /** Adds the step that began at {@code t0} to the run's profile, if it was recorded. */
    private void endProfiledStep(long t0) {
        if (recording) {
            profiled = profiled.plus(OpProfile.stop());
            profiledNanos += System.nanoTime() - t0;
            profiledSteps++;
            recording = false;
        }
    }

    /** What happens once the method is applied and before the run writes anything: a new run creates its directory here. */
    @FunctionalInterface
    public interface Start {
        void begin() throws IOException;
    }

    /** Trains from scratch, or from the run directory's latest checkpoint when {@code resume}. */
    public Result run(boolean resume) throws IOException {
        return run(resume, () -> { });
    }

    // What the loop carries from step to step; control commands change the last three.
    private Map<String, Parameter> named;
    private OptimizerState state;
    private long cursor;
    private Double before;
    private Double lastEval;
    private Double generalAfter;
    private double lrScale = 1;
    private int evalEvery;
    private int saveEvery;

    /**
     * As {@link #run(boolean)}, calling {@code start} after the method is applied to the model, so a
     * method config that fits no module of it fails before {@code start} makes anything on disk.
     */
    public Result run(boolean resume, Start start) throws IOException {
        try {
            return train(resume, start);
        } finally {
            if (recording) {
                OpProfile.stop(); // a failed step must not leave the process recording
                recording = false;
            }
        }
    }

    private Result train(boolean resume, Start start) throws IOException {
        Module module = s.model().module();
        Backend be = s.context().backend();
        List<Parameter> trainable = s.method().apply(module, s.methodConfig(), s.context());
        start.begin();
        named = new LinkedHashMap<>();
        module.namedParameters().forEach((n, p) -> {
            if (p.trainable()) {
                named.put(n, p);
            }
        });
        state = new OptimizerState(s.context().scope());
        evalEvery = s.evalEvery();
        saveEvery = s.saveEvery();
        Checkpoint.Position pos = new Checkpoint.Position(0, 0);
        List<ObjectNode> replay = new ArrayList<>();
        if (resume) {
            var latest = run.latestCheckpoint();
            if (latest.isPresent()) {
                pos = Checkpoint.load(latest.get(), named, state);
                s.memory().restore(pos.memory());
            }
            // Commands the earlier attempt applied: those before the checkpoint are folded in, the rest applied again at their boundaries.
            for (ObjectNode c : run.controlEvents()) {
                if (c.path("step").asLong() < pos.step()) {
                    steer(ControlCommand.parse(ControlCommand.commandOf(c)));
                } else {
                    replay.add(c);
                }
            }
        }
        run.openEvents(resume ? pos.step() : -1);
        DataOrder order = new DataOrder(train.size(), s.shuffle(), s.context().seed());
        if (!general.isEmpty() && pos.step() == 0 && run.writes()) {
            before = Math.exp(meanNll(general));
            run.event(run.newEvent("general_eval").put("step", 0).put("general_ppl", before));
        }
        double lastLoss = Double.NaN;
        cursor = pos.cursor();
        // Announced before the first step, so a swap can be judged against it even while the job waits at step 0.
        Optimizer<Object> optimizer = control.optimizer(s.optimizer());
        Object optimizerConfig = s.optimizerConfig();
        int world = group.worldSize();
        int rank = group.rank();
        GradientBuckets reduce = world > 1 ? new GradientBuckets(group, trainable) : null;
        for (long step = pos.step(); step < s.maxSteps(); step++) {
            boundary(step, replay);
            Optimizer<Object> next = control.optimizer(optimizer);
            if (next != optimizer) {
                // A replaced plugin has its own config class (its own class loader): carry the values over by their keys.
                optimizerConfig = JSON.convertValue(optimizerConfig, next.configType());
                optimizer = next;
            }
            recording = profile && OpProfile.tryStart(); // a step another job is profiling is left out of this run's table
            long t0 = System.nanoTime();
            module.setTraining(true);
            module.setDropoutSeeds(s.context().dropout()); // the model's own dropout layers draw from the run's sequence too
            List<MicroBatch> batches = new ArrayList<>();
            long targets = 0;
            for (int k = 0; k < s.accumulation(); k++) {
                List<Example> rows = new ArrayList<>();
                long first = cursor + ((long) k * world + rank) * s.microBatch(); // round robin over the ranks
                for (int r = 0; r < s.microBatch(); r++) {
                    rows.add(train.get(order.exampleAt(first + r)));
                }
                MicroBatch mb = MicroBatch.of(rows, s.model().hooks().virtualTokenCount());
                targets += mb.targetCount();
                batches.add(mb);
            }
            cursor += (long) s.microBatch() * s.accumulation() * world;
            if (world > 1) {
                double[] count = {targets};
                group.allReduceSum(count); // the loss of the step is over every rank's target tokens
                targets = (long) count[0];
            }
            if (targets == 0) {
                throw new IllegalStateException("step " + (step + 1) + ": no example in the step has a target token (every label is -100)");
            }
            double loss = 0;
            long tokens = 0;
            for (int k = 0; k < batches.size(); k++) {
                MicroBatch mb = batches.get(k);
                s.context().dropout().startMicroBatch(step, k * world + rank);
                try (Scope micro = Scope.open("micro-batch"); MemoryStrategy.Region precision = s.memory().forward()) {
                    Tensor stepLoss = Ops.mulScalar(nllSum(mb, be), 1.0 / targets);
                    loss += Tensors.item(stepLoss); // read first: backward gives the activations' memory back as it goes
                    Tensor scaled = s.memory().scaleLoss(stepLoss);
                    if (reduce != null && k == batches.size() - 1) {
                        reduce.during(() -> Autograd.backward(scaled)); // the step's last backward starts the all-reduces as it goes
                    } else {
                        Autograd.backward(scaled);
                    }
                }
                tokens += mb.tokens();
            }
            double reducedBefore = reduce == null ? 0 : reduce.seconds();
            if (reduce != null) {
                reduce.allReduce();
                double[] totals = {loss, tokens};
                group.allReduceSum(totals);
                loss = totals[0];
                tokens = (long) totals[1];
            }
            if (!s.memory().unscale(trainable)) {
                // f16 gradients overflowed at this loss scale: skip the update, as GradScaler.step does, and back off.
                Autograd.zeroGrad(trainable.stream().map(Parameter::value).toList());
                s.memory().update(false);
                ObjectNode skipped = run.newEvent("step").put("step", step + 1).put("loss", loss).put("skipped", true)
                        .put("tokens_per_second", tokens / ((System.nanoTime() - t0) / 1e9)).put("rss_mb", rssMb());
                s.memory().state().forEach(skipped::put);
                endProfiledStep(t0);
                run.event(skipped);
                progress.accept(skipped);
                continue;
            }
            double gradNorm = s.maxGradNorm() > 0 ? GradClip.clipGradNorm(trainable, s.maxGradNorm()) : GradClip.gradNorm(trainable);
            if (!Double.isFinite(loss) || !Double.isFinite(gradNorm)) {
                String kept = run.latestCheckpoint().map(p -> "; the last good checkpoint is " + p).orElse("; no checkpoint was saved");
                throw new IllegalStateException("step " + (step + 1) + ": the loss is " + loss + " (gradient norm " + gradNorm + "): training stopped" + kept);
            }
            // An optimizer that computes its own step size (per parameter) is given NaN, and the event no lr.
            boolean ownStepSize = optimizer.ownsLearningRate(optimizerConfig);
            if (!ownStepSize && s.schedule() == null) {
                throw new IllegalStateException("step " + (step + 1) + ": the optimizer plugin now takes an lr, but train.optimizer.lr is null");
            }
            double lr = ownStepSize ? Double.NaN : s.schedule().lr((int) step) * lrScale;
            try (Scope opt = Scope.open("optimizer")) {
                optimizer.step(trainable, state, optimizerConfig, lr);
            }
            Autograd.zeroGrad(trainable.stream().map(Parameter::value).toList());
            s.memory().update(true);
            lastLoss = loss;
            double secs = (System.nanoTime() - t0) / 1e9;
            endProfiledStep(t0);
            ObjectNode e = run.newEvent("step").put("step", step + 1).put("loss", loss);
            if (!ownStepSize) {
                e.put("lr", lr);
            }
            e.put("grad_norm", gradNorm).put("tokens_per_second", tokens / secs).put("rss_mb", rssMb());
            if (reduce != null) {
                e.put("all_reduce_seconds", reduce.seconds() - reducedBefore); // what the step waited for the gradients after its backward
            }
            run.event(e);
            progress.accept(e);
            metrics(step + 1);
            long done = step + 1;
            if (run.writes() && (evalEvery > 0 && done % evalEvery == 0 || done == s.maxSteps())) {
                evaluate(done);
            }
            if (run.writes() && saveEvery > 0 && done % saveEvery == 0 && done < s.maxSteps()) {
                checkpoint(done);
            }
        }
        module.setTraining(false);
        if (profile && profiledSteps > 0 && run.writes()) {
            ProfileTable table = ProfileTable.of(profiled, profiledSteps, profiledNanos);
            ObjectNode e = run.newEvent("profile").put("steps", profiledSteps).put("step_ms", profiledNanos / 1e6 / profiledSteps);
            e.set("ops", table.toJson());
            run.event(e);
            progress.accept(e);
        }
        if (reduce != null) {
            reduce.close();
            group.barrier(); // final/ stands for a run every rank finished
            if (run.writes()) {
                run.event(run.newEvent("data_parallel").put("world_size", world).put("floats_per_step", reduce.floats())
                        .put("all_reduce_seconds", reduce.seconds()).put("all_reduce_wait_seconds", reduce.waitSeconds())
                        .put("buckets_started_during_backward", reduce.overlappedShare()).put("backward_seconds_after_bucket_starts", reduce.overlapSeconds()));
            }
        }
        if (run.writes()) {
            if (!java.nio.file.Files.exists(run.finalOutput())) {
                s.method().save(module, s.methodConfig(), s.context(), run.finalOutput());
            }
            run.event(run.newEvent("done").put("step", s.maxSteps()).put("output", run.finalOutput().toString()));
        }
        run.close();
        long stateBytes = state.named(named).values().stream().flatMap(m -> m.values().stream()).mapToLong(t -> t.numel() * t.dtype().byteSize()).sum();
        return new Result(s.maxSteps(), lastLoss, lastEval, before, generalAfter, stateBytes);
    }

    /**
     * The boundary before step {@code done + 1}: the commands an earlier attempt applied here, then
     * those sent meanwhile, each applied and recorded; waits here while the job is paused.
     */
    private void boundary(long done, List<ObjectNode> replay) throws IOException {
        while (!replay.isEmpty() && replay.getFirst().path("step").asLong() == done) {
            apply(ControlCommand.parse(ControlCommand.commandOf(replay.removeFirst())), done);
        }
        try {
            do {
                for (ControlCommand c : control.commands()) {
                    apply(c, done);
                }
            } while (!control.beforeStep(done));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new java.util.concurrent.CancellationException("interrupted before step " + (done + 1));
        }
    }

    private void apply(ControlCommand c, long done) throws IOException {
        ObjectNode e = c.writeTo(run.newEvent("control").put("step", done));
        run.event(e);
        progress.accept(e);
        steer(c);
        switch (c.command()) {
            case ControlCommand.CHECKPOINT -> {
                if (!java.nio.file.Files.exists(run.checkpointDir(done).resolve(Checkpoint.STATE))) {
                    checkpoint(done);
                }
            }
            case ControlCommand.EVALUATE -> evaluate(done);
            default -> { }
        }
    }

    /** What a command changes for the steps after it. */
    private void steer(ControlCommand c) {
        switch (c.command()) {
            case ControlCommand.SCALE_LR -> lrScale *= c.factor();
            case ControlCommand.CADENCE -> {
                evalEvery = c.evalEvery() != null ? c.evalEvery() : evalEvery;
                saveEvery = c.saveEvery() != null ? c.saveEvery() : saveEvery;
            }
            default -> { }
        }
    }

    private void evaluate(long done) throws IOException {
        if (!eval.isEmpty()) {
            lastEval = meanNll(eval);
            run.event(run.newEvent("eval").put("step", done).put("eval_loss", lastEval).put("eval_ppl", Math.exp(lastEval)));
        }
        if (!general.isEmpty()) {
            generalAfter = Math.exp(meanNll(general));
            ObjectNode g = run.newEvent("general_eval").put("step", done).put("general_ppl", generalAfter);
            if (before != null) {
                g.put("general_ppl_change", generalAfter - before);
            }
            run.event(g);
        }
    }

    private void checkpoint(long done) throws IOException {
        if (!run.writes()) {
            return;
        }
        Checkpoint.save(run.checkpointDir(done), named, state, new Checkpoint.Position(done, cursor, s.memory().state()), s.context().seed());
        ObjectNode e = run.newEvent("checkpoint").put("step", done).put("path", run.checkpointDir(done).toString());
        run.event(e);
        progress.accept(e);
    }

    /** Summed next-token NLL of a micro-batch: logits [mb * t, vocab] against targets [mb * t]. */
    private Tensor nllSum(MicroBatch mb, Backend be) {
        return Perplexity.nllSum(s.model(), mb, be);
    }

    /** The techniques' own numbers after a step: one {@code metric} event per technique that reports any. */
    private void metrics(long step) throws IOException {
        com.fasterxml.jackson.databind.node.ObjectNode values = JSON.createObjectNode();
        s.method().metrics(s.model().module(), s.methodConfig(), values::put);
        emit(step, "method/" + s.methodName(), values);
        com.fasterxml.jackson.databind.node.ObjectNode memory = JSON.createObjectNode();
        s.memory().state().forEach(memory::put);
        emit(step, "memory", memory);
    }

    private void emit(long step, String source, com.fasterxml.jackson.databind.node.ObjectNode values) throws IOException {
        if (values.isEmpty()) {
            return;
        }
        ObjectNode m = run.newEvent("metric").put("step", step).put("source", source);
        m.set("values", values);
        run.event(m);
        progress.accept(m);
    }

    /** Mean NLL per target token over a data set, without gradients. */
    double meanNll(List<Example> data) {
        return Perplexity.meanNll(s.model(), s.context().backend(), data, s.microBatch());
    }

    static double rssMb() {
        try {
            for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/self/status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024.0;
                }
            }
        } catch (IOException | RuntimeException ignored) {
            // not Linux
        }
        return Double.NaN;
    }
}
