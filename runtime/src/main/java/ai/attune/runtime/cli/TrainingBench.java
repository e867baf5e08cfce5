package ai.attune.runtime.cli;

import ai.attune.api.autograd.Autograd;
import ai.attune.api.autograd.F;
import ai.attune.api.autograd.Views;
import ai.attune.api.model.CausalLM;
import ai.attune.api.nn.DropoutSeeds;
import ai.attune.api.nn.Parameter;
import ai.attune.api.spi.Kind;
import ai.attune.api.spi.MemoryStrategy;
import ai.attune.api.spi.Method;
import ai.attune.api.spi.MethodContext;
import ai.attune.api.spi.Optimizer;
import ai.attune.api.spi.OptimizerState;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.OpProfile;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;
import ai.attune.runtime.host.PluginCatalog;
import ai.attune.runtime.train.ProfileTable;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.PrintWriter;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Training throughput: forward, backward and an optimizer step (AdamW unless named) on random
 * tokens, with the method's and the optimizer's default configs, in f32 or in bf16/f16 mixed
 * precision, and the bytes of optimizer state the steps leave. Model FLOPs utilisation counts 6
 * FLOPs per parameter per token for full fine-tuning and 4 for frozen-base methods (no weight
 * gradients), against the measured FMA peak. With {@code --profile} the timed steps run under an
 * {@link OpProfile} and its table follows the JSON line (and is in it, as {@code profile}).
 */
final class TrainingBench {
    private final PluginCatalog catalog;
    private final Backend be;
    private final PrintWriter out;

    TrainingBench(PluginCatalog catalog, Backend be, PrintWriter out) {
        this.catalog = catalog;
        this.be = be;
        this.out = out;
    }

    @SuppressWarnings("unchecked")
    void run(BenchCommand.Named named, String methodName, String optimizerName, String precision, boolean checkpointing, int batch, int seq, int steps,
             boolean profile)
            throws IOException {
        if (!(named.module() instanceof CausalLM lm)) {
            throw new IllegalArgumentException(named.name() + " is not a causal language model");
        }
        Method<Object> method = catalog.find(Kind.METHOD, methodName, Method.class).orElseThrow(() -> new IllegalArgumentException(
                "no method named '" + methodName + "'; installed: " + catalog.list(Kind.METHOD).stream().map(PluginCatalog.Entry::name).toList()));
        Optimizer<Object> optimizer = catalog.find(Kind.OPTIMIZER, optimizerName, Optimizer.class).orElseThrow(() -> new IllegalArgumentException(
                "no optimizer named '" + optimizerName + "'; installed: " + catalog.list(Kind.OPTIMIZER).stream().map(PluginCatalog.Entry::name).toList()));
        Object optimizerConfig = optimizer.defaultConfig();
        double lr = optimizer.ownsLearningRate(optimizerConfig) ? Double.NaN : 1e-4;
        Scope job = Scope.current();
        // Each method trains its default config, which initialises from the seed: no tokenizer is needed.
        MethodContext ctx = new MethodContext(be, DType.F32, job, 0, new DropoutSeeds(0), named.dir(), null);
        List<Parameter> trainable = method.apply(lm.module(), method.defaultConfig(), ctx);
        lm.module().setTraining(true);
        MemoryStrategy.Session memory = session(precision, lm);
        if (checkpointing) {
            MemoryStrategy<Object> ckpt = catalog.find(Kind.MEMORY, "gradient_checkpointing", MemoryStrategy.class)
                    .orElseThrow(() -> new IllegalStateException("--gradient-checkpointing needs the gradient_checkpointing memory plugin"));
            memory = MemoryStrategy.Session.compose(List.of(memory, ckpt.apply(lm.module(), ckpt.defaultConfig())));
        }
        long total = lm.module().namedParameters().values().stream().mapToLong(p -> p.value().numel()).sum();
        long quantizedBytes = 0;
        for (ai.attune.api.nn.Module m : lm.module().namedModules().values()) {
            if (m instanceof ai.attune.api.nn.LinearLayer l && l.weightSource() != null) {
                total += ai.attune.api.tensor.Shape.numel(l.weightSource().shape()); // a 4-bit base's Linears compute as dense ones do
                quantizedBytes += l.weightSource().storedBytes();
            }
        }
        long trained = trainable.stream().mapToLong(p -> p.value().numel()).sum();
        OptimizerState state = new OptimizerState(job);
        Random r = new Random(0);
        int len = Math.min(seq, lm.maxPositions());
        double[] times = new double[steps];
        ai.attune.api.tensor.BlockPool.resetPeak();
        OpProfile.Snapshot snapshot = null;
        try {
            for (int s = -1; s < steps; s++) {
                long[] ids = r.longs((long) batch * len, 0, lm.vocabSize()).toArray();
                if (profile && s == 0) {
                    OpProfile.start(); // the timed steps alone: the warm-up's first-call costs are no step's
                }
                long t0 = System.nanoTime();
                try (Scope step = Scope.open("step")) {
                    try (MemoryStrategy.Region region = memory.forward()) {
                        Tensor logits = lm.forward(Tensors.ofLongs(be, ids, batch, len), null, null); // [b, t, vocab]
                        long[] targets = new long[ids.length];
                        for (int i = 0; i < ids.length; i++) {
                            targets[i] = (i + 1) % len == 0 ? -100 : ids[i + 1];
                        }
                        Tensor loss = F.crossEntropy(Views.reshape(logits, batch * len, -1), Tensors.ofLongs(be, targets, ids.length), -100, F.Reduction.MEAN);
                        Autograd.backward(memory.scaleLoss(loss));
                    }
                    boolean finite = memory.unscale(trainable);
                    if (finite) {
                        optimizer.step(trainable, state, optimizerConfig, lr);
                    }
                    memory.update(finite);
                    Autograd.zeroGrad(trainable.stream().map(Parameter::value).toList());
                }
                if (s >= 0) {
                    times[s] = (System.nanoTime() - t0) / 1e9;
                }
            }
        } finally {
            if (profile) {
                snapshot = OpProfile.stop(); // also when a step fails, so that no recording outlives the bench
            }
        }
        ProfileTable table = profile ? ProfileTable.of(snapshot, steps, (long) (Arrays.stream(times).sum() * 1e9)) : null;
        Arrays.sort(times);
        double median = steps % 2 == 1 ? times[steps / 2] : (times[steps / 2 - 1] + times[steps / 2]) / 2;
        double tokensPerSecond = batch * (double) len / median;
        double flopsPerToken = (trained == total ? 6.0 : 4.0) * total;
        // Read before the FMA peak is measured: its warm-up allocates on the heap and would be counted as the step's memory.
        double rss = peakRssMb();
        double peak = be.measurePeakGflops();
        double mfu = flopsPerToken * tokensPerSecond / (peak * 1e9);
        long stateBytes = state.named(lm.module().namedParameters()).values().stream().flatMap(m -> m.values().stream())
                .mapToLong(t -> t.numel() * t.dtype().byteSize()).sum();
        out.printf("train %s with %s and %s in %s%s on %s: %,d parameters, %,d trained; batch %d x %d tokens; %d steps after a warm-up step%n",
                named.name(), methodName, optimizerName, precision, checkpointing ? " with gradient checkpointing" : "", be.name(), total, trained,
                batch, len, steps);
        var json = new ObjectMapper().createObjectNode().put("tokens_per_second", tokensPerSecond).put("step_ms_median", median * 1e3)
                .put("peak_rss_mb", rss).put("tensor_peak_mb", ai.attune.api.tensor.BlockPool.peakBytes() / (1024.0 * 1024.0))
                .put("release_as_you_go", ai.attune.api.autograd.Autograd.releaseAsYouGo()).put("gradient_checkpointing", checkpointing).put("mfu", mfu)
                .put("optimizer_state_bytes", stateBytes).put("quantized_weight_bytes", quantizedBytes);
        if (table != null) {
            json.set("profile", table.toJson());
        }
        out.println(json);
        if (table != null) {
            out.print(table.format());
        }
        out.flush();
    }

    /** fp32: no strategy; bf16 / fp16: the mixed-precision plugin, as {@code train.precision} installs it. */
    @SuppressWarnings("unchecked")
    private MemoryStrategy.Session session(String precision, CausalLM lm) {
        if (precision.equals("fp32")) {
            return new MemoryStrategy.Session() { };
        }
        MemoryStrategy<Object> mixed = catalog.find(Kind.MEMORY, "mixed_precision", MemoryStrategy.class)
                .orElseThrow(() -> new IllegalStateException("--precision " + precision + " needs the mixed_precision memory plugin"));
        Object config = new ObjectMapper().convertValue(Map.of("dtype", precision), mixed.configType());
        return mixed.apply(lm.module(), config);
    }

    private static double peakRssMb() {
        String s = BenchCommand.peakRss();
        return s.endsWith(" MiB") ? Double.parseDouble(s.substring(0, s.length() - 4)) : Double.NaN;
    }
}
