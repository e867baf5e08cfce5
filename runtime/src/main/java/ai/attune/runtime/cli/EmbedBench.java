package ai.attune.runtime.cli;

import ai.attune.api.data.Row;
import ai.attune.api.model.ModelConfig;
import ai.attune.api.model.SentenceBatcher;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.OpProfile;
import ai.attune.api.tensor.Scope;
import ai.attune.runtime.data.RowReader;
import ai.attune.runtime.host.AttuneRuntime;
import ai.attune.runtime.host.RuntimeLayout;
import ai.attune.runtime.model.LoadedModel;
import ai.attune.runtime.model.ModelLoader;
import ai.attune.runtime.train.ProfileTable;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.PrintWriter;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * {@code attune bench --op embed}: texts/s of the encoding {@code attune embed} runs
 * ({@link EmbedCommand#batcher}: tokenise with the model's default prompt, truncate, sort longest
 * first, pad per batch, scatter back), over the texts of a file. One untimed pass over a slice,
 * then {@code --repeats} timed passes over every text, tokenisation included; the median is
 * reported, with the tokenisation's share measured apart.
 *
 * <p>With {@code --peer torch}, {@code bench/peers/st_encode.py} then runs sentence-transformers'
 * encode, written in PyTorch eager, on the same token ids (its time has no tokenisation), the same
 * batch size and threads; its embeddings must match Attune's (cosine at least
 * {@value #PEER_MIN_COSINE} for every text), or no speedup is reported: a peer that computes
 * something else is no peer.
 */
final class EmbedBench {
    /** Timed passes when {@code --repeats} is not given: each is a pass over every text, seconds long. */
    static final int DEFAULT_PASSES = 3;
    /** The cosine every peer embedding must reach against Attune's for the speedup to count. */
    static final double PEER_MIN_COSINE = 0.9999;
    /** Batches of the untimed pass: enough for the JIT to compile the kernels at these shapes. */
    private static final int WARM_UP_BATCHES = 4;

    /** The options {@code --op embed} adds to {@code attune bench} (a picocli mixin). */
    static final class Options {
        @Option(names = "--input", paramLabel = "TEXTS", description = "embed: the texts: .txt one per line (as attune embed reads them), "
                + "or .csv/.jsonl/.arff with --text-column.")
        Path input;

        @Option(names = "--batch-size", defaultValue = "" + SentenceBatcher.DEFAULT_BATCH_SIZE, paramLabel = "N",
                description = "embed: texts per forward, as attune embed --batch-size (default ${DEFAULT-VALUE}).")
        int batchSize;

        @Option(names = "--text-column", defaultValue = "text", paramLabel = "C", description = "embed: the text column of a .csv/.jsonl/.arff "
                + "input (default ${DEFAULT-VALUE}).")
        String textColumn;

        @Option(names = "--max-words", paramLabel = "N", description = "embed: keep the first N whitespace-separated words of each text.")
        Integer maxWords;

        @Option(names = "--limit", paramLabel = "N", description = "embed: the first N texts of the input.")
        Integer limit;
    }

    /** What a run measured: the header lines, the JSON line, the profile table (or null), and the last pass's f32 embeddings [texts, dim]. */
    record Measured(String header, ObjectNode json, ProfileTable profile, float[] embeddings) {}

    private final CommandSpec spec;
    private final PrintWriter out;

    EmbedBench(CommandSpec spec, PrintWriter out) {
        this.spec = spec;
        this.out = out;
    }

    /**
     * Checks the options, reads the texts and the peer before anything loads, then measures.
     *
     * @param repeats the timed passes, or null for {@link #DEFAULT_PASSES}
     * @param peer    the peer to run after Attune's passes, or null
     */
    void run(Options o, String model, String backendName, Integer repeats, TorchPeer peer, boolean profile, RuntimeLayout layout) throws IOException {
        int passes = repeats == null ? DEFAULT_PASSES : repeats;
        List<String> texts = texts(o);
        if (peer != null) {
            peer.check();
        }
        try (AttuneRuntime rt = AttuneRuntime.boot(layout); Scope job = Scope.open("bench")) {
            ModelLoader loader = new ModelLoader(rt.plugins());
            Backend be = loader.backend(backendName);
            Path dir = ModelLoader.resolve(model);
            try (LoadedModel m = loader.load(dir, null, be, DType.F32, job)) {
                SentenceBatcher batcher = EmbedCommand.batcher(m, model, m.sentenceTransformers().prompt(null, null));
                Measured measured = measure(batcher, m.config(), texts, o.batchSize, passes, profile, model);
                if (peer != null) {
                    measured = withPeer(measured, peer, dir, batcher.ids(texts), o.batchSize, passes);
                }
                out.println(measured.header());
                out.println(measured.json());
                if (measured.profile() != null) {
                    out.print(measured.profile().format());
                }
                out.flush();
                if (measured.json().has("peer_min_cosine") && !measured.json().has("speedup_vs_peer")) {
                    throw new IllegalStateException("--peer torch: the peer's embeddings differ from Attune's (min cosine "
                            + measured.json().path("peer_min_cosine").asDouble() + " < " + PEER_MIN_COSINE + "): it is no fair peer; see bench/peers/README.md");
                }
            }
        }
    }

    /** The texts of {@code o.input}: refused in one line when the options or the file cannot give any. */
    List<String> texts(Options o) throws IOException {
        if (o.input == null) {
            throw new ParameterException(spec.commandLine(), "--op embed needs --input TEXTS (.txt one text per line, or .csv/.jsonl/.arff with --text-column)");
        }
        if (o.batchSize < 1 || o.maxWords != null && o.maxWords < 1 || o.limit != null && o.limit < 1) {
            throw new ParameterException(spec.commandLine(), "--batch-size, --max-words and --limit must be positive");
        }
        return texts(o.input, o.textColumn, o.maxWords, o.limit);
    }

    /**
     * A .txt file's lines (as {@code attune embed} reads them), or the {@code column} of each row of a
     * .csv, .jsonl or .arff file; the first {@code limit} (all when null), each cut to its first
     * {@code maxWords} words (whole when null), joined by single spaces.
     */
    static List<String> texts(Path input, String column, Integer maxWords, Integer limit) throws IOException {
        List<String> all = new ArrayList<>();
        if (input.getFileName() != null && input.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".txt")) {
            if (!Files.isRegularFile(input)) {
                throw new IllegalArgumentException(input + ": no such file; --input takes a .txt, .csv, .jsonl or .arff file");
            }
            all.addAll(Files.readAllLines(input, StandardCharsets.UTF_8));
        } else {
            for (Row row : new RowReader().read(input)) {
                if (limit != null && all.size() == limit) {
                    break;
                }
                all.add(row.string(column));
            }
        }
        List<String> texts = new ArrayList<>(all.subList(0, limit == null ? all.size() : Math.min(limit, all.size())));
        if (maxWords != null) {
            texts.replaceAll(t -> {
                String[] words = t.strip().split("\\s+");
                return String.join(" ", Arrays.asList(words).subList(0, Math.min(maxWords, words.length)));
            });
        }
        if (texts.isEmpty()) {
            throw new IllegalArgumentException(input + ": no texts to embed");
        }
        return texts;
    }

    /** Attune's passes: the warm-up, then {@code passes} timed ones, each tokenising and encoding every text into f32 rows. */
    Measured measure(SentenceBatcher batcher, ModelConfig config, List<String> texts, int batchSize, int passes, boolean profile, String model) {
        int dim = batcher.encoder().dimension();
        double[] total = new double[passes];
        double[] tokenize = new double[passes];
        SentenceBatcher.Counts counts = null;
        OpProfile.Snapshot snapshot = null;
        float[] embeddings;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment rows = arena.allocate((long) texts.size() * dim * Float.BYTES, 64);
            List<String> slice = texts.subList(0, Math.min(texts.size(), WARM_UP_BATCHES * batchSize));
            batcher.encode(batcher.ids(slice), batchSize, rows, n -> { });
            if (profile) {
                OpProfile.start();
            }
            try {
                for (int p = 0; p < passes; p++) {
                    long t0 = System.nanoTime();
                    long[][] ids = batcher.ids(texts);
                    long t1 = System.nanoTime();
                    counts = batcher.encode(ids, batchSize, rows, n -> { });
                    total[p] = (System.nanoTime() - t0) / 1e9;
                    tokenize[p] = (t1 - t0) / 1e9;
                }
            } finally {
                if (profile) {
                    snapshot = OpProfile.stop();
                }
            }
            embeddings = rows.toArray(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN));
        }
        ProfileTable table = profile ? ProfileTable.of(snapshot, passes, (long) (Arrays.stream(total).sum() * 1e9)) : null;
        double seconds = median(total);
        double tokenizeSeconds = median(tokenize);
        double rss = BenchCommand.rssMb(BenchCommand.peakRss()); // before the FMA peak's measurement allocates
        double flops = encoderFlops(config.json(), sortedLengths(batcher, texts), batchSize);
        double peak = batcher.backend().measurePeakGflops();
        int threads = Runtime.getRuntime().availableProcessors();
        String header = String.format(Locale.ROOT, "embed %s on %s, %d threads: %d texts, %,d tokens (%,d with padding) in batches of %d, "
                        + "%.2f s per pass with tokenization (%.3f s of it), median of %d after a warm-up pass over %d texts",
                model, batcher.backend().name(), threads, counts.texts(), counts.tokens(), counts.paddedTokens(), batchSize, seconds,
                tokenizeSeconds, passes, Math.min(texts.size(), WARM_UP_BATCHES * batchSize));
        ObjectNode json = new ObjectMapper().createObjectNode().put("texts_per_second", counts.texts() / seconds)
                .put("tokens_per_second", counts.tokens() / seconds).put("texts", counts.texts()).put("tokens", counts.tokens())
                .put("padded_tokens", counts.paddedTokens()).put("seconds", seconds).put("tokenize_seconds", tokenizeSeconds)
                .put("encode_texts_per_second", counts.texts() / (seconds - tokenizeSeconds))
                .put("gflops", flops / (seconds - tokenizeSeconds) / 1e9).put("fma_peak_gflops", peak)
                .put("batch_size", batchSize).put("repeats", passes).put("threads", threads).put("model", model)
                .put("backend", batcher.backend().name()).put("peak_rss_mb", rss);
        if (table != null) {
            json.set("profile", table.toJson());
        }
        return new Measured(header, json, table, embeddings);
    }

    /** Runs the peer on {@code ids}, checks its embeddings against Attune's, and adds its fields; the speedup only when they agree. */
    Measured withPeer(Measured m, TorchPeer peer, Path modelDir, long[][] ids, int batchSize, int passes) throws IOException {
        Path idsFile = Files.createTempFile("attune-embed-ids", ".jsonl");
        Path embeddings = Files.createTempFile("attune-embed-peer", ".f32");
        try {
            writeIds(ids, idsFile);
            int threads = Runtime.getRuntime().availableProcessors();
            ObjectNode p = peer.run(List.of("--model", modelDir.toAbsolutePath().toString(), "--ids", idsFile.toString(),
                    "--embeddings-out", embeddings.toString(), "--batch-size", "" + batchSize, "--repeats", "" + passes,
                    "--warmup", "" + Math.min(ids.length, WARM_UP_BATCHES * batchSize), "--threads", "" + threads));
            float[] theirs = readF32(embeddings);
            double cosine = minCosine(m.embeddings(), theirs, ids.length);
            double attune = m.json().path("texts_per_second").asDouble();
            double encodeOnly = m.json().path("encode_texts_per_second").asDouble();
            double rate = p.path("texts_per_second").asDouble();
            String name = "PyTorch " + p.path("torch_version").asText() + " eager";
            List<String> libraries = new ArrayList<>();
            p.path("blas").forEach(b -> libraries.add(b.asText()));
            String blas = String.join(", ", libraries);
            double gemm = p.path("gemm_gflops").asDouble();
            ObjectNode json = m.json().put("peer", name).put("peer_min_cosine", cosine).put("peer_seconds", p.path("seconds_median").asDouble())
                    .put("peer_padded_tokens", p.path("padded_tokens").asLong()).put("peer_peak_rss_mb", p.path("peak_rss_mb").asDouble())
                    .put("peer_gemm_gflops", gemm).put("peer_blas", blas);
            StringBuilder header = new StringBuilder(m.header());
            if (cosine >= PEER_MIN_COSINE) {
                json.put("peer_texts_per_second", rate).put("speedup_vs_peer", attune / rate).put("encode_speedup_vs_peer", encodeOnly / rate);
                header.append(String.format(Locale.ROOT, "%npeer: %s on %d threads (f32 GEMM %.1f GFLOP/s), sentence-transformers' encode on the same "
                                + "ids without tokenization: %.1f texts/s, min cosine to Attune's %.6f; Attune %.1f texts/s with tokenization, %.2fx "
                                + "(%.2fx without)", name, p.path("threads").asInt(), gemm, rate, cosine, attune, attune / rate, encodeOnly / rate));
            } else {
                header.append(String.format(Locale.ROOT, "%npeer: %s: its embeddings differ from Attune's, min cosine %.6f < %s: no speedup reported",
                        name, cosine, PEER_MIN_COSINE));
            }
            double peak = json.path("fma_peak_gflops").asDouble();
            if (gemm < BenchCommand.UNTUNED_BLAS * peak) {
                header.append(String.format(Locale.ROOT, "%nwarning: the peer's f32 GEMM runs at %.1f GFLOP/s, %.1f%% of the %.1f GFLOP/s FMA peak: its "
                        + "BLAS (%s) looks untuned, and then the comparison measures that BLAS; see bench/peers/README.md", gemm, 100 * gemm / peak,
                        peak, blas.isEmpty() ? "not found" : blas));
            }
            return new Measured(header.toString(), json, m.profile(), m.embeddings());
        } finally {
            Files.deleteIfExists(idsFile);
            Files.deleteIfExists(embeddings);
        }
    }

    /** The peer's input: one JSON array of ids per text and line, in input order. */
    static void writeIds(long[][] ids, Path file) throws IOException {
        try (BufferedWriter w = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
            for (long[] row : ids) {
                w.write('[');
                for (int j = 0; j < row.length; j++) {
                    if (j > 0) {
                        w.write(',');
                    }
                    w.write(Long.toString(row[j]));
                }
                w.write(']');
                w.newLine();
            }
        }
    }

    /** The peer's output: f32 little-endian. */
    static float[] readF32(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ); Arena arena = Arena.ofConfined()) {
            MemorySegment seg = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
            return seg.toArray(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN));
        }
    }

    /** The smallest cosine between row i of {@code ours} and of {@code theirs}, both [texts, dim]; -1 when their sizes differ. */
    static double minCosine(float[] ours, float[] theirs, int texts) {
        if (ours.length != theirs.length || ours.length % texts != 0) {
            return -1;
        }
        int dim = ours.length / texts;
        double min = 1;
        for (int i = 0; i < texts; i++) {
            double dot = 0, a = 0, b = 0;
            for (int j = i * dim; j < (i + 1) * dim; j++) {
                dot += (double) ours[j] * theirs[j];
                a += (double) ours[j] * ours[j];
                b += (double) theirs[j] * theirs[j];
            }
            min = Math.min(min, dot / Math.sqrt(a * b));
        }
        return min;
    }

    private static int[] sortedLengths(SentenceBatcher batcher, List<String> texts) {
        long[][] ids = batcher.ids(texts);
        return Arrays.stream(SentenceBatcher.longestFirst(ids)).map(i -> ids[i].length).toArray();
    }

    /**
     * The FLOPs of a BERT encoder's forward over length-sorted batches: 2 per weight of every
     * Linear and padded token, plus the scores and the weighted values, 4 x t x hidden per padded
     * token and layer. The embedding gather, norms and pooling are left out.
     */
    static double encoderFlops(JsonNode config, int[] sortedLengths, int batchSize) {
        long h = config.path("hidden_size").asLong();
        long i = config.path("intermediate_size").asLong(4 * h);
        long layers = config.path("num_hidden_layers").asLong();
        double flops = 0;
        for (int start = 0; start < sortedLengths.length; start += batchSize) {
            long t = sortedLengths[start];
            long rows = Math.min(batchSize, sortedLengths.length - start) * t;
            flops += layers * (2.0 * rows * (4 * h * h + 2 * h * i) + 4.0 * rows * t * h);
        }
        return flops;
    }

    private static double median(double[] values) {
        double[] v = values.clone();
        Arrays.sort(v);
        int n = v.length;
        return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    }
}
