package ai.attune.runtime.cli;

import ai.attune.api.autograd.GradMode;
import ai.attune.api.autograd.Views;
import ai.attune.api.model.CausalLM;
import ai.attune.api.model.KvCache;
import ai.attune.api.model.ModelConfig;
import ai.attune.api.nn.Module;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;
import ai.attune.api.dist.ProcessGroup;
import ai.attune.api.dist.Rendezvous;
import ai.attune.runtime.dist.GlooEngine;
import ai.attune.runtime.dist.RankLauncher;
import ai.attune.runtime.host.AttuneRuntime;
import ai.attune.runtime.host.RuntimeLayout;
import ai.attune.runtime.model.LoadedModel;
import ai.attune.runtime.model.ModelLoader;
import com.fasterxml.jackson.databind.ObjectMapper;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;

/**
 * {@code attune bench}: throughput of a kernel or a model on a backend. {@code matmul} ends with its
 * ratio to the measured FMA peak; {@code bandwidth} measures the memory bandwidth (STREAM's triad);
 * {@code score} and {@code generate} end with tokens/s, and {@code generate} with the bytes of
 * weights each decoded token streams and their rate against the triad's. Peak RSS is printed with
 * every result.
 */
@Command(name = "bench", description = "Measure throughput: a GEMM against the machine's FMA peak, the memory bandwidth (STREAM triad), "
        + "a model's score/generate tokens/s (generate: weight bytes streamed per token against the triad), training steps, "
        + "or a streamed merge's time and peak memory.")
public final class BenchCommand implements Runnable {
    /** The benchmarks. */
    enum Op { matmul, bandwidth, score, generate, merge, embed }

    /** What the training bench can run beside Attune: {@link TorchPeer}. */
    enum Peer { torch }

    /** Element types a benchmark can run in; nf4 and fp4 are a matmul's 4-bit weight (the installed quantizer of that name). */
    enum Dtype { f32, bf16, f16, nf4, fp4 }

    /** Model shapes to benchmark without a checkpoint, with weights drawn as transformers initialises a new model. */
    static final Map<String, String> PRESETS = Map.of(
            "llama-100m", """
                    {"model_type": "llama", "hidden_size": 768, "intermediate_size": 2048, "num_hidden_layers": 12,
                     "num_attention_heads": 12, "num_key_value_heads": 12, "vocab_size": 32000,
                     "max_position_embeddings": 2048, "rms_norm_eps": 1e-5, "tie_word_embeddings": true}""");

    private static final ObjectMapper JSON = new ObjectMapper();

    @Spec
    CommandSpec spec;

    @Option(names = "--op", defaultValue = "matmul", description = "What to measure: ${COMPLETION-CANDIDATES} (default ${DEFAULT-VALUE}).")
    Op op;

    @Option(names = "--m", defaultValue = "1024", description = "matmul: rows of A and C (default ${DEFAULT-VALUE}).")
    int m;

    @Option(names = "--n", defaultValue = "1024", description = "matmul: columns of B and C (default ${DEFAULT-VALUE}).")
    int n;

    @Option(names = "--k", defaultValue = "1024", description = "matmul: inner dimension (default ${DEFAULT-VALUE}).")
    int k;

    @Option(names = "--dtype", defaultValue = "f32", description = "Operand dtype: ${COMPLETION-CANDIDATES} (default ${DEFAULT-VALUE}); "
            + "nf4 and fp4 time x[m,k] @ W[n,k]^T with a 4-bit W: fused into the GEMM, dequantized then multiplied, and dense f32.")
    Dtype dtype;

    @Option(names = "--backend", description = "Backend name (default: the highest-ranked).")
    String backendName;

    @Option(names = "--repeats", defaultValue = "10", description = "Timed repeats after warm-up; the median is reported, for bandwidth the best "
            + "(default ${DEFAULT-VALUE}; embed: passes over the input, 3 unless given).")
    int repeats;

    @Option(names = "--array-mib", defaultValue = "256", description = "bandwidth, generate: MiB of each of the triad's 3 f32 arrays; "
            + "STREAM asks for at least 4x the last-level cache (default ${DEFAULT-VALUE}).")
    int arrayMib;

    @Option(names = "--model", paramLabel = "DIR", description = "score/generate: a model directory; embed: a sentence encoder's directory or name.")
    Path model;

    @Option(names = "--preset", description = "A model shape instead of --model, with weights drawn as transformers initialises a new model "
            + "(N(0, 0.02²)): llama-100m.")
    String preset;

    @Option(names = "--seq", defaultValue = "256", description = "score: tokens per sequence (default ${DEFAULT-VALUE}).")
    int seq;

    @Option(names = "--new-tokens", defaultValue = "64", description = "generate: tokens to decode after a 16-token prompt (default ${DEFAULT-VALUE}).")
    int newTokens;

    @Option(names = "--method", description = "Benchmark steps of the training loop attune train runs, with this method (full, lora, ...) on --model or --preset "
            + "and random tokens; ends with a JSON line.")
    String method;

    @Option(names = "--optimizer", defaultValue = "adamw", description = "training: the optimizer, with its defaults; its state's size is reported (default ${DEFAULT-VALUE}).")
    String optimizer;

    @Option(names = "--precision", defaultValue = "fp32", description = "training: fp32, bf16 or fp16 (mixed precision, as train.precision) (default ${DEFAULT-VALUE}).")
    String precision;

    @Option(names = "--gradient-checkpointing", description = "training: run with the gradient_checkpointing memory plugin, as train.gradient_checkpointing.")
    boolean gradientCheckpointing;

    @Option(names = "--batch", defaultValue = "4", description = "training: sequences per step (default ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--steps", defaultValue = "5", description = "training: timed optimizer steps after one warm-up step (default ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--profile", description = "training, embed: profile the timed steps and print the per-op table (calls, self time, share of the step, "
            + "GFLOP/s, MiB allocated) after the JSON line, as torch.profiler's key_averages().")
    boolean profile;

    @Option(names = "--peer", description = "training: then train the same Llama shape, method (lora or full, f32, adamw), batch, sequence length, "
            + "steps and threads in PyTorch eager (bench/peers/torch_lora.py) and add its tokens/s and the speedup over it to the JSON line; "
            + "embed: sentence-transformers' encode of the same ids in PyTorch eager (bench/peers/st_encode.py), its texts/s and the speedup.")
    Peer peer;

    @Option(names = "--peer-python", paramLabel = "PYTHON", defaultValue = "/usr/bin/python3",
            description = "--peer: a Python with PyTorch to run the peer script (default ${DEFAULT-VALUE}).")
    Path peerPython;

    @Option(names = "--nproc-per-node", defaultValue = "1", paramLabel = "N",
            description = "training: time the steps as attune train --nproc-per-node N trains them: N data-parallel ranks on this machine, "
                    + "each with its share of --batch, gradients all-reduced over c10d Gloo (default ${DEFAULT-VALUE}).")
    int nprocPerNode;

    @Option(names = "--threads-per-rank", paramLabel = "T", description = "--nproc-per-node: kernel threads per rank (default: cores / N).")
    Integer threadsPerRank;

    @Option(names = "--merge-method", defaultValue = "ties", description = "merge: the merge_method (default ${DEFAULT-VALUE}).")
    String mergeMethod;

    @Option(names = "--merge-models", defaultValue = "3", description = "merge: fine-tuned models merged onto the base (default ${DEFAULT-VALUE}).")
    int mergeModels;

    @Mixin
    EmbedBench.Options embed;

    @Override
    public void run() {
        if (m <= 0 || n <= 0 || k <= 0 || repeats <= 0 || seq <= 0 || newTokens <= 0 || batch <= 0 || steps <= 0 || arrayMib <= 0) {
            throw new ParameterException(spec.commandLine(), "sizes and --repeats must be positive");
        }
        PrintWriter out = spec.commandLine().getOut();
        if (method != null && !precision.equals("fp32") && !precision.equals("bf16") && !precision.equals("fp16")) {
            throw new ParameterException(spec.commandLine(), "--precision must be fp32, bf16 or fp16");
        }
        RuntimeLayout layout = RuntimeLayout.fromSystem();
        if (method == null && op == Op.embed) {
            embed(layout, out);
            return;
        }
        TorchPeer torch = peer == null ? null : torchPeer(layout); // refused before the runtime boots and the model loads
        Optional<Rendezvous> rendezvous = Rendezvous.fromEnvironment(System.getenv());
        if (nprocPerNode > 1 && rendezvous.isEmpty()) {
            launchRanks();
            return;
        }
        if (method == null && op == Op.bandwidth) {
            bandwidth(out); // the machine's, not a backend's: no plugin is needed
            return;
        }
        try (AttuneRuntime rt = AttuneRuntime.boot(layout); Scope job = Scope.open("bench")) {
            ModelLoader loader = new ModelLoader(rt.plugins());
            Backend be = loader.backend(backendName);
            if (method != null) {
                Named named = modelModule(loader, be, job);
                TorchPeer.Shape shape = torch == null ? null : peerShape(named);
                TrainingBench.Options options = new TrainingBench.Options(method, optimizer, precision, gradientCheckpointing, batch, seq, steps, profile);
                try (ProcessGroup group = rendezvous.isPresent()
                        ? GlooEngine.join(rt.plugins(), rendezvous.get(), "attune bench --nproc-per-node") : ProcessGroup.single()) {
                    TrainingBench.Measured measured = new TrainingBench(rt.plugins(), be, out).run(named, options, group);
                    if (torch != null) {
                        measured = withPeer(measured, torch.train(method, batch, measured.seq(), steps, TrainingBench.WARM_UP_STEPS,
                                Runtime.getRuntime().availableProcessors(), shape));
                    }
                    if (group.rank() == 0) {
                        measured.print(out);
                    }
                }
                return;
            }
            switch (op) {
                case matmul -> {
                    if (dtype == Dtype.nf4 || dtype == Dtype.fp4) {
                        new QuantizedMatmulBench(out).run(be, loader.quantizer(dtype.name(), "--dtype"), dtype.name(), m, n, k, repeats);
                        out.printf("peak RSS: %s%n", peakRss());
                    } else {
                        matmul(be, out);
                    }
                }
                case score, generate -> model(loader, be, job, out);
                case merge -> {
                    Named shapes = modelModule(loader, be, job);
                    new MergeBench(out).run(shapes.module(), shapes.dir().resolve("config.json"), shapes.name(), mergeMethod, mergeModels);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    /**
     * Starts the ranks of {@code --nproc-per-node} as {@code attune train} does: each runs this
     * command again with torchrun's environment, joins the group and times its share; rank 0
     * prints the result.
     */
    private void launchRanks() {
        if (method == null || peer != null) {
            throw new ParameterException(spec.commandLine(), "--nproc-per-node times training steps (--method) without a --peer");
        }
        if (batch % nprocPerNode != 0 || threadsPerRank != null && threadsPerRank < 1) {
            throw new ParameterException(spec.commandLine(), "--batch " + batch + " is the global batch: it must divide among --nproc-per-node "
                    + nprocPerNode + " ranks (and --threads-per-rank must be at least 1)");
        }
        int threads = threadsPerRank != null ? threadsPerRank : Math.max(1, Runtime.getRuntime().availableProcessors() / nprocPerNode);
        List<String> args = spec.commandLine().getParseResult().originalArgs(); // "bench" and its options, as given
        String addr = "127.0.0.1";
        new RankLauncher(new RankLauncher.Plan(nprocPerNode, 1, 0, addr, RankLauncher.freePort(addr), threads, args), spec.commandLine().getErr()).run();
    }

    /** {@code --op embed}: {@link EmbedBench} on --model NAME|DIR with the --peer's encode script. */
    private void embed(RuntimeLayout layout, PrintWriter out) {
        if (model == null || preset != null) {
            throw new ParameterException(spec.commandLine(), "--op embed needs --model NAME|DIR (a sentence encoder)" + (preset != null ? ", not --preset" : ""));
        }
        TorchPeer encodePeer = peer == null ? null : new TorchPeer(peerPython, layout.home().resolve(TorchPeer.ENCODE_SCRIPT));
        Integer passes = spec.commandLine().getParseResult().hasMatchedOption("--repeats") ? repeats : null;
        try {
            new EmbedBench(spec, out).run(embed, model.toString(), backendName, passes, encodePeer, profile, layout);
        } catch (IOException e) {
            throw new UncheckedIOException(e.getMessage(), e);
        }
    }

    /** The peer script of the installation with {@code --peer-python}, checked, for options it can mirror. */
    private TorchPeer torchPeer(RuntimeLayout layout) {
        if (method == null) {
            throw new ParameterException(spec.commandLine(), "--peer compares training steps: give --method lora or --method full");
        }
        if (!TorchPeer.METHODS.contains(method) || !precision.equals("fp32") || gradientCheckpointing || !optimizer.equals("adamw")) {
            throw new ParameterException(spec.commandLine(), "--peer torch trains " + TorchPeer.METHODS.stream().sorted().toList()
                    + " in fp32 with adamw and no gradient checkpointing; got --method " + method + " --precision " + precision + " --optimizer "
                    + optimizer + (gradientCheckpointing ? " --gradient-checkpointing" : ""));
        }
        TorchPeer torch = new TorchPeer(peerPython, layout.home().resolve(TorchPeer.SCRIPT));
        torch.check();
        return torch;
    }

    /** The Llama shape the peer builds, from the benchmarked model's config.json. */
    private TorchPeer.Shape peerShape(Named named) throws IOException {
        StringBuilder why = new StringBuilder();
        TorchPeer.Shape shape = TorchPeer.Shape.ofLlama(JSON.readTree(named.dir().resolve("config.json").toFile()), why);
        if (shape == null) {
            throw new ParameterException(spec.commandLine(), "--peer torch cannot build " + named.name() + ": it has " + why);
        }
        return shape;
    }

    /**
     * Attune's measurement with the peer's tokens/s, step, peak RSS and GEMM rate beside it, and
     * Attune's speedup over it; with a warning when the peer's GEMM is far below the FMA peak.
     */
    static TrainingBench.Measured withPeer(TrainingBench.Measured m, com.fasterxml.jackson.databind.node.ObjectNode p) {
        double attune = m.json().path("tokens_per_second").asDouble();
        double theirs = p.path("tokens_per_second").asDouble();
        double gemm = p.path("gemm_gflops").asDouble();
        String name = "PyTorch " + p.path("torch_version").asText() + " eager";
        List<String> libraries = new ArrayList<>();
        p.path("blas").forEach(b -> libraries.add(b.asText()));
        String blas = String.join(", ", libraries);
        m.json().put("peer", name).put("peer_tokens_per_second", theirs).put("peer_step_ms_median", p.path("step_ms_median").asDouble())
                .put("peer_peak_rss_mb", p.path("peak_rss_mb").asDouble()).put("peer_loss", p.path("loss").asDouble())
                .put("peer_gemm_gflops", gemm).put("peer_blas", blas).put("speedup_vs_peer", attune / theirs);
        TrainingBench.Measured out = m.withLine(String.format(
                "peer: %s on %d threads (f32 GEMM %.1f GFLOP/s): %.1f tokens/s, %.2f s/step, peak RSS %.0f MiB; Attune %.1f tokens/s, %.2fx",
                name, p.path("threads").asInt(), gemm, theirs, p.path("step_ms_median").asDouble() / 1e3, p.path("peak_rss_mb").asDouble(), attune,
                attune / theirs));
        double peak = m.json().path("fma_peak_gflops").asDouble();
        if (gemm < UNTUNED_BLAS * peak) {
            out = out.withLine(String.format("warning: the peer's f32 GEMM runs at %.1f GFLOP/s, %.1f%% of the %.1f GFLOP/s FMA peak: its BLAS (%s) "
                    + "looks untuned, and then the comparison measures that BLAS; see bench/peers/README.md", gemm, 100 * gemm / peak, peak,
                    blas.isEmpty() ? "not found" : blas));
        }
        return out;
    }

    /**
     * The fraction of the FMA peak below which the peer's GEMM is taken for an untuned BLAS's:
     * Debian's reference libblas.so.3 reached 0.7-1.7% on the 2-core development machine, OpenBLAS
     * 7% while other work shared the cores and far more on an idle one.
     */
    static final double UNTUNED_BLAS = 0.025;

    private void bandwidth(PrintWriter out) {
        MemoryBandwidth.Result r = triad();
        out.printf("bandwidth: STREAM triad a = b + %.0f * c and copy a = b over 3 x %d MiB f32 on %d threads: triad %.1f GB/s, copy %.1f GB/s "
                + "(best of %d)%n", MemoryBandwidth.SCALAR, arrayMib, r.threads(), r.triadGbPerSecond(), r.copyGbPerSecond(), repeats);
        out.println(JSON.createObjectNode().put("triad_gb_per_second", r.triadGbPerSecond()).put("copy_gb_per_second", r.copyGbPerSecond())
                .put("array_mib", arrayMib).put("threads", r.threads()).put("repeats", repeats));
        out.flush();
    }

    private MemoryBandwidth.Result triad() {
        return MemoryBandwidth.measure((long) arrayMib << 20, Runtime.getRuntime().availableProcessors(), repeats);
    }

    private void matmul(Backend be, PrintWriter out) {
        DType t = DType.valueOf(dtype.name().toUpperCase());
        double median = matmulSeconds(be, t);
        double gflops = 2.0 * m * n * k / median / 1e9;
        out.printf("matmul %dx%dx%d %s on %s: %.1f GFLOP/s (median of %d, %.3f ms)%n", m, n, k, dtype, be.name(), gflops, repeats, median * 1e3);
        out.printf("peak RSS: %s%n", peakRss());
        out.flush();
        double peak = be.measurePeakGflops();
        if (Double.isNaN(peak)) {
            out.printf("peak: not measurable on %s%n", be.name());
        } else {
            out.printf("f32 FMA peak of %s on %s (%d threads): %.1f GFLOP/s%n", be.name(), be.device(), Runtime.getRuntime().availableProcessors(), peak);
            out.printf("ratio to peak: %.0f%% (%.1f / %.1f GFLOP/s)%n", 100 * gflops / peak, gflops, peak);
        }
        out.flush();
    }

    private double matmulSeconds(Backend be, DType t) {
        try (Scope s = Scope.open("matmul")) {
            Random r = new Random(0);
            Tensor a = Tensors.of(be, t, r.doubles((long) m * k, -1, 1).toArray(), m, k);
            Tensor b = Tensors.of(be, t, r.doubles((long) k * n, -1, 1).toArray(), k, n);
            Tensor c = be.zeros(t, new int[] {m, n}, s);
            return timeMedian(() -> be.matmul(a, false, b, false, c));
        }
    }

    /** The benchmarked model: a checkpoint, or a preset shape with initial weights; with its name and directory. */
    record Named(Module module, String name, Path dir) {}

    private Named modelModule(ModelLoader loader, Backend be, Scope job) throws IOException {
        if ((model == null) == (preset == null)) {
            throw new ParameterException(spec.commandLine(), "a model benchmark needs exactly one of --model DIR and --preset NAME");
        }
        ModelLoader.Quantization quantization = "qlora".equals(method) ? qloraBase(loader) : null;
        if (model != null) {
            LoadedModel lm = loader.load(model, null, be, DType.F32, job, quantization);
            lm.tokenizer().close();
            return new Named(lm.module(), model.getFileName().toString(), model);
        }
        String json = PRESETS.get(preset);
        if (json == null) {
            throw new ParameterException(spec.commandLine(), "unknown --preset '" + preset + "'; known: " + PRESETS.keySet());
        }
        Path dir = Files.createTempDirectory("attune-bench");
        Files.writeString(dir.resolve("config.json"), json);
        dir.toFile().deleteOnExit();
        dir.resolve("config.json").toFile().deleteOnExit();
        Module module = loader.create(ModelConfig.of(dir, new ObjectMapper().readTree(json)), be, DType.F32, job);
        PresetWeights.initialize(module, quantization, 0);
        return new Named(module, preset, dir);
    }

    /** method qlora trains over the QLoRA paper's base: NF4 with double quantization, blocks of 64. */
    @SuppressWarnings("unchecked")
    private static ModelLoader.Quantization qloraBase(ModelLoader loader) throws IOException {
        var quantizer = (ai.attune.api.spi.Quantizer<Object>) loader.quantizer("nf4", "method qlora's base");
        Object config = new ObjectMapper().convertValue(Map.of("bnb_4bit_use_double_quant", true, "bnb_4bit_blocksize", 64),
                quantizer.configType());
        return new ModelLoader.Quantization(quantizer, config);
    }

    private void model(ModelLoader loader, Backend be, Scope job, PrintWriter out) throws IOException {
        Named named = modelModule(loader, be, job);
        Module module = named.module();
        String name = named.name();
        if (!(module instanceof CausalLM lm)) {
            throw new IllegalArgumentException(name + " is not a causal language model");
        }
        long params = module.namedParameters().values().stream().mapToLong(p -> p.value().numel()).sum();
        Random r = new Random(1);
        try (GradMode.Region ng = GradMode.noGrad()) {
            if (op == Op.score) {
                int len = Math.min(seq, lm.maxPositions());
                long[] ids = r.longs(len, 0, lm.vocabSize()).toArray();
                double secs = timeMedian(() -> {
                    try (Scope s = Scope.open("score")) {
                        lm.forward(Tensors.ofLongs(be, ids, 1, len), null, null);
                    }
                });
                out.printf("score %s (%,d parameters) on %s, f32, 1 x %d tokens: %.3f s per sequence (median of %d)%n", name, params, be.name(), len, secs, repeats);
                out.printf("peak RSS: %s%n", peakRss());
                out.printf("score: %.1f tokens/s%n", len / secs);
            } else {
                long[] prompt = r.longs(16, 0, lm.vocabSize()).toArray();
                List<double[]> runs = new ArrayList<>();
                timeMedian(() -> runs.add(decode(lm, be, prompt)));
                List<double[]> timed = runs.subList(runs.size() - repeats, runs.size()); // the warm-up's runs are not timed
                double prefill = median(timed.stream().mapToDouble(t -> t[0]).toArray());
                double decode = median(timed.stream().mapToDouble(t -> t[1]).toArray());
                double tokensPerSecond = newTokens / decode;
                out.printf("generate %s (%,d parameters) on %s, f32: 16-token prompt prefilled in %.3f s, then %d tokens decoded in %.3f s (median of %d)%n",
                        name, params, be.name(), prefill, newTokens, decode, repeats);
                String rss = peakRss(); // read before the triad's arrays are allocated
                out.printf("peak RSS: %s%n", rss);
                out.printf("generate: %.1f tokens/s%n", tokensPerSecond);
                out.flush();
                long weightBytes = DecodeTraffic.weightBytesPerToken(module);
                double weightGbps = weightBytes * tokensPerSecond / 1e9;
                MemoryBandwidth.Result triad = triad();
                out.printf("decode streams %,d bytes of weights per token: %.1f GB/s, %.0f%% of the %.1f GB/s triad bandwidth (bench --op bandwidth)%n",
                        weightBytes, weightGbps, 100 * weightGbps / triad.triadGbPerSecond(), triad.triadGbPerSecond());
                out.println(JSON.createObjectNode().put("tokens_per_second", tokensPerSecond).put("prefill_ms", prefill * 1e3)
                        .put("peak_rss_mb", rssMb(rss)).put("weight_bytes_per_token", weightBytes).put("weight_gb_per_second", weightGbps)
                        .put("triad_gb_per_second", triad.triadGbPerSecond()).put("ratio_to_triad", weightGbps / triad.triadGbPerSecond()));
            }
        }
        out.flush();
    }

    /** Prefills the prompt, then decodes greedily; returns the seconds of each: {prefill, decode}. */
    private double[] decode(CausalLM lm, Backend be, long[] prompt) {
        double[] times = new double[2];
        try (Scope s = Scope.open("generate")) {
            KvCache cache = lm.newCache(1, prompt.length + newTokens, s);
            long t0 = System.nanoTime();
            Tensor logits = lm.forward(Tensors.ofLongs(be, prompt, 1, prompt.length), null, cache);
            times[0] = (System.nanoTime() - t0) / 1e9;
            long next = argmaxLast(logits);
            long t1 = System.nanoTime();
            for (int i = 0; i < newTokens; i++) {
                try (Scope step = Scope.open("step")) {
                    next = argmaxLast(lm.forward(Tensors.ofLongs(be, new long[] {next}, 1, 1), null, cache));
                }
            }
            times[1] = (System.nanoTime() - t1) / 1e9;
        }
        return times;
    }

    private static long argmaxLast(Tensor logits) {
        double[] v = Tensors.toDoubles(Views.slice(logits, 1, logits.size(1) - 1, logits.size(1)));
        int best = 0;
        for (int i = 1; i < v.length; i++) {
            if (v[i] > v[best]) {
                best = i;
            }
        }
        return best;
    }

    private double timeMedian(Runnable body) {
        // Warm up for at least a second: the JIT compiles the hot kernels in tiers, and a short
        // warm-up would time the interpreter's and C1's versions.
        long warmUntil = System.nanoTime() + 1_000_000_000L;
        for (int i = 0; i < 3 || System.nanoTime() < warmUntil; i++) {
            body.run();
        }
        double[] times = new double[repeats];
        for (int i = 0; i < repeats; i++) {
            long t0 = System.nanoTime();
            body.run();
            times[i] = (System.nanoTime() - t0) / 1e9;
        }
        return median(times);
    }

    private static double median(double[] values) {
        double[] v = values.clone();
        Arrays.sort(v);
        int n = v.length;
        return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    }

    /** MiB from {@link #peakRss()}'s text; NaN where the OS does not report it. */
    static double rssMb(String peakRss) {
        return peakRss.endsWith(" MiB") ? Double.parseDouble(peakRss.substring(0, peakRss.length() - 4)) : Double.NaN;
    }

    /** The process's high-water resident set (VmHWM), where the OS reports it. */
    static String peakRss() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) {
                    long kb = Long.parseLong(line.replaceAll("[^0-9]", ""));
                    return String.format("%.0f MiB", kb / 1024.0);
                }
            }
        } catch (IOException | RuntimeException ignored) {
            // not Linux: say so below
        }
        return "not reported on this OS";
    }
}
