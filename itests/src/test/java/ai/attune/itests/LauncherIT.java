package ai.attune.itests;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

/** The distribution's launcher, run as a new user runs it. */
public class LauncherIT {

    /** Seven support tickets, 4 billing and 3 technical: one class short of 4 examples, for the warning. */
    private static final String SETFIT_TICKETS = """
            text,label
            I was charged twice this month,billing
            Please refund my last payment,billing
            Why is my invoice so high,billing
            My card was billed after I cancelled,billing
            The app crashes on startup,technical
            I get error 502 when uploading,technical
            Sync stopped after the update,technical
            """;
    private static final String SETFIT_EVAL = "text,label\nrefund the double charge,billing\nthe screen freezes,technical\n";

    record Result(int code, String out, String err) {}

    static Result attune(String... args) throws IOException, InterruptedException {
        return attuneIn(Path.of("").toAbsolutePath(), args);
    }

    /** Starts the launcher in {@code workDir} without waiting; stdout and stderr go to the given files. */
    static Process start(Path workDir, Path out, Path err, String... args) throws IOException {
        return start(workDir, Map.of(), out, err, args);
    }

    /** As {@link #start(Path, Path, Path, String...)}, with more environment variables. */
    static Process start(Path workDir, Map<String, String> env, Path out, Path err, String... args) throws IOException {
        Path launcher = Path.of(System.getProperty("attune.distribution"), "bin", "attune").toAbsolutePath();
        List<String> cmd = new java.util.ArrayList<>(List.of(launcher.toString()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(workDir.toFile());
        // CI may leave a pre-25 java on PATH; the launcher must find a JDK 25 on its own or via JAVA_HOME.
        pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
        // Imported models go to a cache of the build's, not the user's.
        pb.environment().put("XDG_CACHE_HOME", Path.of(System.getProperty("attune.itest.dir"), "cache").toAbsolutePath().toString());
        pb.environment().putAll(env);
        pb.redirectOutput(out.toFile());
        pb.redirectError(err.toFile());
        return pb.start();
    }

    /** Starts the launcher in {@code workDir} without waiting, its output to files under the itest dir. */
    static Process start(Path workDir, String... args) throws IOException {
        Path logs = Files.createDirectories(Path.of(System.getProperty("attune.itest.dir"), "logs"));
        return start(workDir, Files.createTempFile(logs, "out", ".txt"), Files.createTempFile(logs, "err", ".txt"), args);
    }

    static Result attuneIn(Path workDir, String... args) throws IOException, InterruptedException {
        return attuneIn(workDir, Map.of(), args);
    }

    static Result attuneIn(Path workDir, Map<String, String> env, String... args) throws IOException, InterruptedException {
        Path logs = Files.createDirectories(Path.of(System.getProperty("attune.itest.dir"), "logs"));
        Path out = Files.createTempFile(logs, "out", ".txt");
        Path err = Files.createTempFile(logs, "err", ".txt");
        Process p = start(workDir, env, out, err, args);
        if (!p.waitFor(300, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("attune " + String.join(" ", args) + " did not finish");
        }
        return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8), Files.readString(err, StandardCharsets.UTF_8));
    }

    @Test
    public void pluginsListsTheSamplePluginWithItsBundleVersion() throws Exception {
        Result r = attune("plugins");
        assertEquals(r.err, 0, r.code);
        assertTrue(r.out, r.out.lines().anyMatch(l -> l.matches("optimizer\\s+sgd\\s+ai\\.attune\\.optim\\.sgd\\s+0\\.1\\.0\\..*")));
        assertTrue(r.out, r.out.lines().anyMatch(l -> l.matches("backend\\s+jvm\\s+ai\\.attune\\.kernels\\.jvm\\s+0\\.1\\.0\\..*")));
        assertTrue(r.out, r.out.lines().anyMatch(l -> l.matches("data-format\\s+prompt_completion\\s+ai\\.attune\\.data\\.instruct\\s+0\\.1\\.0\\..*")));
    }

    @Test
    public void dataInspectReadsWithTheInstalledFormatsAndNamesThemForAnother() throws Exception {
        Path dir = Files.createTempDirectory("attune-inspect");
        Path chat = dir.resolve("chat.jsonl");
        Files.writeString(chat, "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}, {\"role\": \"assistant\", \"content\": \"Hello\"}]}\n"
                + "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}, {\"role\": \"assistant\", \"content\": \"Hello\"}]}\n");
        Result r = attune("data", "inspect", chat.toString(), "--format", "chat");
        assertEquals(r.err, 0, r.code);
        assertEquals(List.of("chat.jsonl: 2 rows (format chat)", "empty rows: 0", "exact duplicates: 1", "near duplicates: 0 (MinHash Jaccard >= 0.8)"),
                r.out.lines().toList());
        Result other = attune("data", "inspect", chat.toString(), "--format", "sharegpt");
        assertEquals(1, other.code);
        // The one line of the refusal (the JVM may print its own notes before it).
        assertEquals(other.err, List.of("attune: --format 'sharegpt' is not installed; installed: [alpaca, chat, prompt_completion, text, tokens]"),
                other.err.lines().filter(l -> l.startsWith("attune") || l.startsWith("\t")).toList());
    }

    static final String STORIES = Path.of("../../shared/models/stories260K").toAbsolutePath().normalize().toString();

    @Test
    public void generateContinuesBosWithTheKnownStory() throws Exception {
        Result r = attune("generate", "--model", STORIES, "--prompt", "", "--max-new-tokens", "60");
        assertEquals(r.err, 0, r.code);
        assertEquals("Once upon a time, there was a little girl named Lily. She loved to play outside in the park. "
                + "One day, she saw a big, red ball. She wanted to play with it, but it was too high\n", r.out);
    }

    @Test
    public void scoreWritesLogitsAndTheirMeanNll() throws Exception {
        Path dir = java.nio.file.Files.createTempDirectory("attune-score");
        Path ids = dir.resolve("ids.jsonl");
        java.nio.file.Files.writeString(ids, "{\"input_ids\":[1, 403, 407, 261]}\n{\"input_ids\":[1, 17]}\n");
        Path out = dir.resolve("out.safetensors");
        Result r = attune("score", "--model", STORIES, "--input", ids.toString(), "--out", out.toString());
        assertEquals(r.err, 0, r.code);
        java.util.List<String> lines = r.out.lines().toList();
        assertEquals(2, lines.size());
        assertTrue(lines.get(0), lines.get(0).startsWith("{\"index\":0,\"tokens\":4,\"nll\":"));
        double nll = Double.parseDouble(lines.get(0).replaceAll(".*\"nll\":([^}]*)}", "$1"));
        try (ai.attune.api.io.SafetensorsFile f = ai.attune.api.io.SafetensorsFile.open(out)) {
            assertEquals(java.util.Set.of("logits.0", "logits.1"), f.names());
            assertEquals("[4, 512]", java.util.Arrays.toString(f.info("logits.0").shape()));
            // The mean NLL recomputed from the written logits: -log softmax(logits[t])[ids[t+1]] over t = 0..2.
            java.lang.foreign.MemorySegment l = f.data("logits.0");
            long[] seq = {1, 403, 407, 261};
            double total = 0;
            for (int t = 0; t < 3; t++) {
                double max = Double.NEGATIVE_INFINITY;
                for (int v = 0; v < 512; v++) {
                    max = Math.max(max, l.getAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED, t * 512L + v));
                }
                double sum = 0;
                for (int v = 0; v < 512; v++) {
                    sum += Math.exp(l.getAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED, t * 512L + v) - max);
                }
                total += max + Math.log(sum) - l.getAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED, t * 512L + seq[t + 1]);
            }
            assertEquals(total / 3, nll, 1e-9);
        }
    }

    @Test
    public void scoreRefusesABadLineByNumberAndWritesNothing() throws Exception {
        Path dir = java.nio.file.Files.createTempDirectory("attune-score");
        Path ids = dir.resolve("ids.jsonl");
        java.nio.file.Files.writeString(ids, "{\"input_ids\":[1, 2]}\n{\"input_ids\":[1, 9999]}\n");
        Path out = dir.resolve("out.safetensors");
        Result r = attune("score", "--model", STORIES, "--input", ids.toString(), "--out", out.toString());
        assertEquals(1, r.code);
        assertTrue(r.err, r.err.contains("attune: ids.jsonl:2: input_ids[1] = 9999 is not a token id in [0, 512)"));
        assertFalse(r.err, r.err.contains("\tat "));
        assertFalse(java.nio.file.Files.exists(out));
    }

    @Test
    public void embedMatchesTheOnnxRuntimeMiniLm() throws Exception {
        assertEmbedMatches(new dev.langchain4j.model.embedding.onnx.allminilml6v2.AllMiniLmL6V2EmbeddingModel(), "", "--model", "all-MiniLM-L6-v2");
    }

    /** bge-small-en-v1.5 pools the [CLS] state; e5-small-v2 prepends its default prompt "query: ", or the one asked for. */
    @Test
    public void embedMatchesTheOnnxRuntimeBgeAndE5() throws Exception {
        assertEmbedMatches(new dev.langchain4j.model.embedding.onnx.bgesmallenv15.BgeSmallEnV15EmbeddingModel(), "", "--model", "bge-small-en-v1.5");
        var e5 = new dev.langchain4j.model.embedding.onnx.e5smallv2.E5SmallV2EmbeddingModel();
        assertEmbedMatches(e5, "query: ", "--model", "e5-small-v2");
        assertEmbedMatches(e5, "passage: ", "--model", "intfloat/e5-small-v2", "--prompt-name", "passage");
        assertEmbedMatches(e5, "", "--model", "e5-small-v2", "--prompt", "");

        Path dir = Files.createTempDirectory("attune-embed-prompt");
        Path in = Files.writeString(dir.resolve("texts.txt"), "hello\n");
        Result r = attune("embed", "--model", "e5-small-v2", "--prompt-name", "title", "--input", in.toString(), "--out", dir.resolve("e.safetensors").toString());
        assertEquals(r.err, 1, r.code);
        assertTrue(r.err, r.err.contains("attune: prompt name 'title' is not in ") && r.err.contains("config_sentence_transformers.json; its prompts: query, passage"));
        assertFalse(r.err, r.err.contains("\tat "));
        assertFalse(Files.exists(dir.resolve("e.safetensors")));
    }

    /** attune embed with {@code args} on four Harvard sentences, against {@code oracle} on {@code prefix} + each. */
    private static void assertEmbedMatches(dev.langchain4j.model.embedding.EmbeddingModel oracle, String prefix, String... args) throws Exception {
        List<String> texts = java.nio.file.Files.readAllLines(Path.of("../../shared/data/text/harvard_sentences.txt")).stream()
                .filter(l -> !l.isBlank()).skip(20).limit(4).toList();
        Path dir = java.nio.file.Files.createTempDirectory("attune-embed");
        Path in = dir.resolve("texts.txt");
        java.nio.file.Files.write(in, texts);
        Path out = dir.resolve("emb.safetensors");
        List<String> cmd = new java.util.ArrayList<>(List.of("embed", "--input", in.toString(), "--out", out.toString()));
        cmd.addAll(List.of(args));
        Result r = attune(cmd.toArray(String[]::new));
        assertEquals(r.err, 0, r.code);
        try (ai.attune.api.io.SafetensorsFile f = ai.attune.api.io.SafetensorsFile.open(out)) {
            assertEquals("[4, 384]", java.util.Arrays.toString(f.info("embeddings").shape()));
            java.lang.foreign.MemorySegment e = f.data("embeddings");
            for (int i = 0; i < texts.size(); i++) {
                float[] want = oracle.embed(prefix + texts.get(i)).content().vector();
                double dot = 0, nw = 0, ng = 0;
                for (int j = 0; j < 384; j++) {
                    double g = e.getAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED, i * 384L + j);
                    dot += g * want[j];
                    nw += want[j] * (double) want[j];
                    ng += g * g;
                }
                double cos = dot / Math.sqrt(nw * ng);
                assertTrue(List.of(args) + ": cosine " + cos + " for '" + prefix + texts.get(i) + "'", cos >= 0.9999);
            }
        }
    }

    @Test
    public void aTokenizerFromAnotherModelIsRefused() throws Exception {
        Path dir = java.nio.file.Files.createTempDirectory("attune-mismatch");
        Path stories = Path.of(STORIES);
        Path llama2 = Path.of("../../shared/tokenizers/llama2").toAbsolutePath().normalize();
        java.nio.file.Files.createSymbolicLink(dir.resolve("config.json"), stories.resolve("config.json"));
        java.nio.file.Files.createSymbolicLink(dir.resolve("model.safetensors"), stories.resolve("model.safetensors"));
        java.nio.file.Files.createSymbolicLink(dir.resolve("tokenizer.json"), llama2.resolve("tokenizer.json"));
        Result r = attune("generate", "--model", dir.toString(), "--prompt", "x");
        assertEquals(1, r.code);
        assertTrue(r.err, r.err.contains("attune: tokenizer.json: has 32000 tokens but config.json's vocab_size is 512: "
                + "the tokenizer does not belong to this model"));
    }

    @Test
    public void setfitRefusesUnusableDataInOneLine() throws Exception {
        Path dir = java.nio.file.Files.createTempDirectory("attune-setfit");
        Path one = dir.resolve("one.csv");
        java.nio.file.Files.writeString(one, "text,label\nhello there,greeting\nhi,greeting\n");
        Result r = attune("setfit", "--train", one.toString(), "--eval", one.toString());
        assertEquals(r.err, 1, r.code);
        assertTrue(r.err, r.err.contains("one.csv: only one class (greeting); a classifier needs at least 2"));
        assertFalse(r.err, r.err.contains("\tat "));

        Path noLabel = dir.resolve("nolabel.csv");
        java.nio.file.Files.writeString(noLabel, "text,category\nhello,a\nbye,b\n");
        Result r2 = attune("setfit", "--train", noLabel.toString(), "--eval", noLabel.toString());
        assertEquals(r2.err, 1, r2.code);
        assertTrue(r2.err, r2.err.lines().anyMatch(l -> l.startsWith("attune: ") && l.contains("nolabel.csv") && l.contains("label")));
        assertFalse(r2.err, r2.err.contains("\tat "));
    }

    @Test
    public void aSetfitRecipeTrainsSavesAndPredicts() throws Exception {
        Path dir = Files.createTempDirectory("attune-setfit-recipe");
        Files.writeString(dir.resolve("train.csv"), SETFIT_TICKETS);
        Files.writeString(dir.resolve("eval.csv"), SETFIT_EVAL);
        Files.writeString(dir.resolve("recipe.yaml"), """
                model: all-MiniLM-L6-v2
                method: setfit
                setfit: {num_epochs: [1, 4], max_length: 16, use_differentiable_head: true, seed: 3}
                data: {path: train.csv, eval_path: eval.csv, num_samples: 4}
                output: out
                """);
        Result r = attuneIn(dir, "train", "recipe.yaml");
        assertEquals(r.err, 0, r.code);
        // fewer examples than asked for: a warning, and the class is used whole
        assertTrue(r.err, r.err.contains("attune: warning: class technical has only 3 examples (asked for 4); using them all"));
        assertTrue(r.out, r.out.contains("setfit: accuracy "));
        assertTrue(r.out, r.out.contains("baseline (frozen + head)"));
        assertTrue(Files.isRegularFile(dir.resolve("out/model_head.json")));
        assertTrue(Files.readString(dir.resolve("out/model_head.json")).contains("\"SetFitHead\""));

        Files.writeString(dir.resolve("texts.txt"), "refund please\nthe app crashes\nmy invoice\n");
        Result p = attuneIn(dir, "predict", "--model", "out", "--input", "texts.txt");
        assertEquals(p.err, 0, p.code);
        List<String> labels = p.out.lines().toList();
        assertEquals(p.out, 3, labels.size());
        assertTrue(p.out, labels.stream().allMatch(l -> l.equals("billing") || l.equals("technical")));

        Files.writeString(dir.resolve("typo.yaml"), "model: all-MiniLM-L6-v2\nmethod: setfit\nsetfit: {nm_epochs: 2}\n"
                + "data: {path: train.csv, eval_path: eval.csv}\noutput: out2\n");
        Result typo = attuneIn(dir, "train", "typo.yaml");
        assertEquals(typo.err, 1, typo.code);
        assertTrue(typo.err, typo.err.contains("attune: typo.yaml: unknown key 'setfit.nm_epochs' (did you mean 'num_epochs'?)"));
        assertFalse(typo.err, typo.err.contains("\tat "));
    }

    @Test
    public void theShippedSetfitRecipeRuns() throws Exception {
        Path out = Files.createTempDirectory("attune-setfit-example").resolve("model");
        Path repo = Path.of("..").toAbsolutePath().normalize();
        // The recipe as shipped, shortened: two body steps on 32-token texts.
        Result r = attuneIn(repo, "train", "examples/setfit-tickets.yaml", "--set", "output=" + out,
                "--set", "setfit.max_steps=2", "--set", "setfit.max_length=32");
        assertEquals(r.err, 0, r.code);
        // The quickstart's 64 held-out tickets: the full run scores 1.0; two body steps on 32 tokens keep it well above chance (0.25).
        double accuracy = Double.parseDouble(r.out.replaceAll("(?s).*setfit: accuracy ([0-9.]+),.*", "$1"));
        assertTrue(r.out, accuracy >= 0.9);
        assertTrue(Files.isRegularFile(out.resolve("model_head.json")));
    }

    @Test
    public void setfitSeedsArePairedAndReported() throws Exception {
        Path dir = Files.createTempDirectory("attune-setfit-seeds");
        Files.writeString(dir.resolve("train.csv"), SETFIT_TICKETS + "The export button does nothing,technical\n");
        Files.writeString(dir.resolve("eval.csv"), SETFIT_EVAL + "a second invoice arrived,billing\nlogin fails with an error,technical\n");
        Result r = attuneIn(dir, "setfit", "--train", "train.csv", "--eval", "eval.csv", "--per-class", "3", "--seeds", "2", "--max-length", "16",
                "--report", "report.json");
        assertEquals(r.err, 0, r.code);
        assertTrue(r.out, r.out.contains("seed    accuracy  macro-F1  accuracy  macro-F1  accuracy  macro-F1\n42  "));
        assertTrue(r.out, r.out.contains("\n43  "));
        assertTrue(r.out, r.out.contains("2 seeds (42-43): mean ± sample std; the difference paired by seed: mean ± standard error"));
        assertTrue(r.out, r.out.lines().anyMatch(l -> l.matches("setfit - baseline +[+-]\\d\\.\\d{4} ± \\d\\.\\d{4} +[+-]\\d\\.\\d{4} ± \\d\\.\\d{4}")));
        assertTrue(r.out, r.out.lines().anyMatch(l -> l.matches("setfit won/tied/lost +\\d/\\d/\\d +\\d/\\d/\\d")));
        assertEquals(r.err, 2, r.err.lines().filter(l -> l.startsWith("setfit: body trained ")).count());
        // The frozen body is the same in both seeds: the eval set is embedded once for the baseline, twice for SetFit.
        assertEquals(r.err, 1, r.err.lines().filter(l -> l.startsWith("baseline eval ")).count());
        assertEquals(r.err, 2, r.err.lines().filter(l -> l.startsWith("setfit eval 4/4")).count());

        JsonNode j = new ObjectMapper().readTree(dir.resolve("report.json").toFile());
        assertEquals(3, j.path("per_class").asInt());
        assertEquals(16, j.at("/config/max_length").asInt());
        assertEquals(2, j.path("rows").size());
        double[] d = new double[2];
        for (int i = 0; i < 2; i++) {
            JsonNode row = j.path("rows").get(i);
            assertEquals(42 + i, row.path("seed").asLong());
            d[i] = row.at("/setfit/accuracy").asDouble() - row.at("/baseline/accuracy").asDouble();
            assertEquals(d[i], row.at("/difference/accuracy").asDouble(), 1e-12);
            JsonNode body = row.path("body_training");
            // every text of a step is padded to the longest, at most 16 tokens, in steps of at most 16 pairs
            long steps = body.path("steps").asLong();
            assertTrue(body.toString(), steps > 0 && body.path("tokens").asLong() <= body.path("padded_tokens").asLong()
                    && body.path("padded_tokens").asLong() <= steps * 2 * 16 * 16);
        }
        // Two seeds: the differences' std is |d0 - d1| / sqrt(2), its standard error |d0 - d1| / 2.
        assertEquals((d[0] + d[1]) / 2, j.at("/summary/difference/accuracy/mean").asDouble(), 1e-12);
        assertEquals(Math.abs(d[0] - d[1]) / 2, j.at("/summary/difference/accuracy/standard_error").asDouble(), 1e-12);
        try (var files = Files.list(dir)) {
            assertEquals("no temporary file is left", List.of("eval.csv", "report.json", "train.csv"),
                    files.map(f -> f.getFileName().toString()).sorted().toList());
        }
    }

    @Test
    public void setfitRefusesEmptyTextsAndUnknownModelsInOneLine() throws Exception {
        Path dir = Files.createTempDirectory("attune-setfit-bad");
        Path empty = dir.resolve("empty.csv");
        Files.writeString(empty, "text,label\nhello,a\n\"  \",b\n");
        Result r = attune("setfit", "--train", empty.toString(), "--eval", empty.toString());
        assertEquals(r.err, 1, r.code);
        assertTrue(r.err, r.err.contains("empty.csv:3: \"text\" is empty; every row needs a text"));
        assertFalse(r.err, r.err.contains("\tat "));

        Path ok = dir.resolve("ok.csv");
        Files.writeString(ok, "text,label\nhello,a\nbye,b\n");
        Result m = attune("setfit", "--train", ok.toString(), "--eval", ok.toString(), "--model", "all-MiniLM-L12-v9");
        assertEquals(m.err, 1, m.code);
        assertTrue(m.err, m.err.contains("attune: config.json: not found: all-MiniLM-L12-v9 is not a Hugging Face model directory nor a known model name"));
        assertFalse(m.err, m.err.contains("\tat "));
    }

    @Test
    public void theTorchBackendScoresAsTheJvmBackendDoesOnItsFirstUse() throws Exception {
        Path dir = Files.createTempDirectory("attune-torch");
        Path ids = dir.resolve("ids.jsonl");
        Files.writeString(ids, "{\"input_ids\":[1, 403, 407, 261, 30, 9]}\n");
        // A natives cache that does not exist yet: the first use on a machine that never ran libtorch.
        Map<String, String> fresh = Map.of("ATTUNE_NATIVE_CACHE", dir.resolve("natives").toString());
        double[] nll = new double[2];
        String[] backends = {"jvm", "torch"};
        for (int i = 0; i < 2; i++) {
            Result r = attuneIn(dir, fresh, "score", "--model", STORIES, "--backend", backends[i],
                    "--input", ids.toString(), "--out", dir.resolve(backends[i] + ".safetensors").toString());
            assertEquals(r.err, 0, r.code);
            assertFalse(r.err, r.err.contains("do not match")); // JavaCPP's version note is kept out of the console
            nll[i] = Double.parseDouble(r.out.strip().replaceAll(".*\"nll\":([^}]*)}", "$1"));
        }
        assertTrue("libtorch came from the fresh cache", Files.isRegularFile(dir.resolve(
                "natives/pytorch-2.13.0-1.5.14-linux-x86_64.jar/org/bytedeco/pytorch/linux-x86_64/libtorch_cpu.so")));
        try (var files = Files.list(dir)) {
            assertEquals("no JVM crash report", List.of(), files.filter(f -> f.getFileName().toString().startsWith("hs_err")).toList());
        }
        // The pretrained stories260K through libtorch from the distribution: the jvm backend is the oracle (f32 rounding apart).
        assertEquals(nll[0], nll[1], 1e-5);
    }

    @Test
    public void versionListsTheBundlesAndSubcommandsAnswerHelp() throws Exception {
        Result v = attune("--version");
        assertEquals(v.err, 0, v.code);
        assertTrue(v.out, v.out.startsWith("attune 0."));
        assertTrue(v.out, v.out.matches("(?s).*\n  ai\\.attune\\.kernels\\.torch 0\\.\\d+\\.\\d+.*"));
        assertTrue(v.out, v.out.contains("org.apache.felix.scr 2."));
        Result h = attune("data", "inspect", "--help");
        assertEquals(h.err, 0, h.code);
        assertTrue(h.out, h.out.startsWith("Usage: attune data inspect "));
    }

    @Test
    public void aMissingModelDirectoryIsOneLine() throws Exception {
        Result r = attune("generate", "--model", "/nonexistent/model", "--prompt", "x");
        assertEquals(1, r.code);
        assertTrue(r.err, r.err.contains("attune: config.json: not found: /nonexistent/model is not a Hugging Face model directory"));
    }

    @Test
    public void unknownCommandExitsTwoWithoutStackTrace() throws Exception {
        Result r = attune("frobnicate");
        assertEquals(2, r.code);
        assertTrue(r.err, r.err.contains("attune: Unmatched argument at index 0: 'frobnicate'"));
        assertFalse(r.err, r.err.contains("\tat "));
    }
}
