package ai.attune.itests;

import org.junit.Test;

import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

/**
 * Training from the launcher, as a user runs it: the shipped LoRA recipe, a run killed with
 * SIGKILL after a checkpoint and resumed (bit for bit equal to an uninterrupted run), the adapter
 * used by generate, and export of the merged model.
 */
public class TrainLauncherIT {
    static final Path RECIPE = Path.of("../examples/lora-moby-dick.yaml").toAbsolutePath().normalize();

    static List<String> small(Path out) {
        return List.of("--set", "train.max_steps=8", "--set", "train.save_every=2", "--set", "train.eval_every=4",
                "--set", "train.micro_batch_size=4", "--set", "train.gradient_accumulation_steps=1", "--set", "output=" + out);
    }

    static String[] args(String first, Path recipe, List<String> rest) {
        List<String> all = new java.util.ArrayList<>(List.of(first, recipe.toString()));
        all.addAll(rest);
        return all.toArray(new String[0]);
    }

    @Test
    public void killedRunResumesBitForBitAndItsAdapterIsUsable() throws Exception {
        Path base = Files.createTempDirectory("attune-train");
        Path whole = base.resolve("whole");
        Path killed = base.resolve("killed");
        // The launcher resolves the recipe's relative paths against the working directory: the repository root.
        LauncherIT.Result r = LauncherIT.attuneIn(RECIPE.getParent().getParent(), args("train", RECIPE, small(whole)));
        assertEquals(r.err(), 0, r.code());
        assertTrue(r.out(), r.out().startsWith("trained 8 steps: loss "));

        Process p = LauncherIT.start(RECIPE.getParent().getParent(), args("train", RECIPE, small(killed)));
        Path checkpoint = killed.resolve("checkpoint-4");
        long deadline = System.currentTimeMillis() + 120_000;
        while (!Files.exists(checkpoint.resolve("trainer_state.json")) && System.currentTimeMillis() < deadline && p.isAlive()) {
            Thread.sleep(20);
        }
        assertTrue("checkpoint-4 appeared", Files.exists(checkpoint));
        p.destroyForcibly(); // SIGKILL: no shutdown hook, no flush
        p.waitFor(30, TimeUnit.SECONDS);
        assertFalse("the run was stopped before its end", Files.exists(killed.resolve("final")));

        LauncherIT.Result resumed = LauncherIT.attuneIn(RECIPE.getParent().getParent(), new String[] {"train", "--resume", killed.toString()});
        assertEquals(resumed.err(), 0, resumed.code());
        try (var a = ai.attune.api.io.SafetensorsFile.open(whole.resolve("final/adapter_model.safetensors"));
             var b = ai.attune.api.io.SafetensorsFile.open(killed.resolve("final/adapter_model.safetensors"))) {
            assertEquals(a.names(), b.names());
            for (String name : a.names()) {
                MemorySegment x = a.data(name);
                assertEquals(name + " differs after resume", -1L, x.mismatch(b.data(name)));
            }
        }
        long steps = Files.readAllLines(killed.resolve("events.jsonl")).stream().filter(l -> l.contains("\"type\":\"step\"")).count();
        assertEquals(8, steps);

        LauncherIT.Result gen = LauncherIT.attune("generate", "--model", LauncherIT.STORIES, "--adapter", whole.resolve("final").toString(),
                "--prompt", "The whale", "--max-new-tokens", "12");
        assertEquals(gen.err(), 0, gen.code());
        Path merged = base.resolve("merged");
        LauncherIT.Result exp = LauncherIT.attune("export", "--model", LauncherIT.STORIES, "--adapter", whole.resolve("final").toString(),
                "--out", merged.toString());
        assertEquals(exp.err(), 0, exp.code());
        LauncherIT.Result gen2 = LauncherIT.attune("generate", "--model", merged.toString(), "--prompt", "The whale", "--max-new-tokens", "12");
        assertEquals("the merged model continues as base + adapter does", gen.out(), gen2.out());
    }

    /**
     * The shipped QLoRA recipe from the launcher: a PEFT LoRA directory with the quantization
     * beside it; generate re-creates the 4-bit base under the adapter, and export writes the merged
     * model (dequantized base plus the update) that continues a prompt as base + adapter does.
     */
    @Test
    public void qloraTrainsOverANf4BaseAndExportsTheModelItTrained() throws Exception {
        Path recipe = RECIPE.resolveSibling("qlora-moby-dick.yaml");
        Path base = Files.createTempDirectory("attune-qlora");
        Path run = base.resolve("run");
        LauncherIT.Result r = LauncherIT.attuneIn(RECIPE.getParent().getParent(), args("train", recipe, List.of("--set", "train.max_steps=4",
                "--set", "train.save_every=0", "--set", "train.micro_batch_size=4", "--set", "train.gradient_accumulation_steps=1",
                "--set", "output=" + run)));
        assertEquals(r.err(), 0, r.code());
        Path adapter = run.resolve("final");
        assertTrue(Files.readString(adapter.resolve("quantization_config.json")).contains("\"bnb_4bit_quant_type\" : \"nf4\""));
        LauncherIT.Result gen = LauncherIT.attune("generate", "--model", LauncherIT.STORIES, "--adapter", adapter.toString(),
                "--prompt", "The whale", "--max-new-tokens", "12");
        assertEquals(gen.err(), 0, gen.code());
        Path merged = base.resolve("merged");
        LauncherIT.Result exp = LauncherIT.attune("export", "--model", LauncherIT.STORIES, "--adapter", adapter.toString(), "--out", merged.toString());
        assertEquals(exp.err(), 0, exp.code());
        assertFalse("a full-precision model", Files.readString(merged.resolve("config.json")).contains("quantization_config"));
        LauncherIT.Result gen2 = LauncherIT.attune("generate", "--model", merged.toString(), "--prompt", "The whale", "--max-new-tokens", "12");
        assertEquals("the merged model continues as the 4-bit base + adapter does", gen.out(), gen2.out());
    }

    /** {@code train.gradient_checkpointing: true} from the launcher: the same adapter bits as the run without it (dropout is on). */
    @Test
    public void gradientCheckpointingChangesMemoryNotTheAdapter() throws Exception {
        Path base = Files.createTempDirectory(Files.createDirectories(Path.of(System.getProperty("attune.itest.dir"))), "ckpt");
        List<String> common = List.of("--set", "train.max_steps=4", "--set", "train.micro_batch_size=4", "--set", "train.gradient_accumulation_steps=2",
                "--set", "train.save_every=0", "--set", "train.eval_every=0");
        List<String> plain = new java.util.ArrayList<>(common);
        plain.addAll(List.of("--set", "output=" + base.resolve("plain")));
        List<String> ckpt = new java.util.ArrayList<>(common);
        ckpt.addAll(List.of("--set", "train.gradient_checkpointing=true", "--set", "output=" + base.resolve("ckpt")));
        LauncherIT.Result a = LauncherIT.attuneIn(RECIPE.getParent().getParent(), args("train", RECIPE, plain));
        assertEquals(a.err(), 0, a.code());
        LauncherIT.Result b = LauncherIT.attuneIn(RECIPE.getParent().getParent(), args("train", RECIPE, ckpt));
        assertEquals(b.err(), 0, b.code());
        assertTrue(b.err(), b.err().contains("gradient checkpointing: each block keeps only its input"));
        assertTrue(java.util.Arrays.equals(Files.readAllBytes(base.resolve("plain/final/adapter_model.safetensors")),
                Files.readAllBytes(base.resolve("ckpt/final/adapter_model.safetensors"))));
    }

    /**
     * The torch backend on a CPU that multiplies bf16 natively trains in bf16 mixed precision when
     * the recipe names no precision, and says so; elsewhere, and when fp32 is named, it stays f32.
     */
    @Test
    public void theTorchBackendDefaultsToBf16WhereTheCpuMultipliesBf16() throws Exception {
        Path base = Files.createTempDirectory(Files.createDirectories(Path.of(System.getProperty("attune.itest.dir"))), "torch-bf16");
        String cpuinfo = Files.isReadable(Path.of("/proc/cpuinfo")) ? Files.readString(Path.of("/proc/cpuinfo")) : "";
        boolean nativeBf16 = cpuinfo.lines().filter(l -> l.startsWith("flags")).findFirst()
                .map(l -> java.util.Arrays.asList(l.split("\\s+")).stream().anyMatch(f -> f.equals("avx512_bf16") || f.equals("amx_bf16"))).orElse(false);
        List<String> common = List.of("--set", "train.max_steps=2", "--set", "train.micro_batch_size=2", "--set", "train.gradient_accumulation_steps=1",
                "--set", "train.save_every=0", "--set", "train.eval_every=0", "--set", "train.backend=torch",
                "--set", "data.eval_path=null", "--set", "data.general_eval_path=null"); // libtorch on a 260K model: evaluation would dominate
        List<String> unset = new java.util.ArrayList<>(common);
        unset.addAll(List.of("--set", "train.precision=null", "--set", "output=" + base.resolve("default"))); // the example names fp32
        LauncherIT.Result a = LauncherIT.attuneIn(RECIPE.getParent().getParent(), args("train", RECIPE, unset));
        assertEquals(a.err(), 0, a.code());
        String line = "train: bf16 mixed precision (train.precision is not set, and the torch backend multiplies bf16 natively on this CPU)";
        assertEquals(a.err(), nativeBf16, a.err().contains(line));
        assertEquals(a.err(), nativeBf16, a.err().contains("products in bf16, weights, gradients and optimizer state in f32"));
        List<String> fp32 = new java.util.ArrayList<>(common);
        fp32.addAll(List.of("--set", "train.precision=fp32", "--set", "output=" + base.resolve("fp32")));
        LauncherIT.Result b = LauncherIT.attuneIn(RECIPE.getParent().getParent(), args("train", RECIPE, fp32));
        assertEquals(b.err(), 0, b.code());
        assertFalse(b.err(), b.err().contains("mixed precision"));
    }

    @Test
    public void aRecipeTypoNamesTheKeyAndSuggestsOne() throws Exception {
        Path base = Files.createTempDirectory("attune-train");
        LauncherIT.Result r = LauncherIT.attuneIn(RECIPE.getParent().getParent(),
                args("train", RECIPE, List.of("--set", "train.micro_batch=2", "--set", "output=" + base.resolve("x"))));
        assertEquals(1, r.code());
        assertTrue(r.err(), r.err().contains("attune: lora-moby-dick.yaml: unknown key 'train.micro_batch' (did you mean 'micro_batch_size'?)"));
        assertFalse(Files.exists(base.resolve("x")));
    }

    @Test
    public void anOutputHoldingACheckpointIsNotOverwritten() throws Exception {
        Path out = Files.createTempDirectory("attune-train").resolve("run");
        Files.createDirectories(out.resolve("checkpoint-2"));
        Files.writeString(out.resolve("recipe.yaml"), "model: other\n");
        Files.writeString(out.resolve("checkpoint-2/trainer_state.json"), "{\"step\": 2}");
        LauncherIT.Result r = LauncherIT.attuneIn(RECIPE.getParent().getParent(), args("train", RECIPE, small(out)));
        assertEquals(1, r.code());
        assertTrue(r.err(), r.err().contains("output directory " + out + " already holds a run; resume it with --resume " + out));
        assertEquals("model: other\n", Files.readString(out.resolve("recipe.yaml")));
    }

    @Test
    public void promptTuningTrainsVirtualTokensAndSavesPeftsAdapter() throws Exception {
        Path out = trainsAndSaves("prompt_tuning", "{num_virtual_tokens: 8}", 3.0e-2);
        promptEmbeddings(out, new long[] {8, 64}, "PROMPT_TUNING");
        // the method's own metric after every step: the soft prompt's norm, which the updates move
        List<Double> norms = Files.readAllLines(out.resolve("events.jsonl")).stream()
                .filter(l -> l.contains("\"type\":\"metric\"") && l.contains("\"source\":\"method/prompt_tuning\""))
                .map(l -> Double.parseDouble(l.replaceAll(".*\"prompt_norm\":([-0-9.eE]+).*", "$1"))).toList();
        assertEquals(30, norms.size());
        assertTrue(norms.toString(), !norms.get(0).equals(norms.get(29)) && norms.get(0) > 10); // N(0, 1) over 8 x 64: about sqrt(512)
    }

    @Test
    public void prefixTuningTrainsKeysAndValuesAndSavesPeftsAdapter() throws Exception {
        // stories260K: 5 layers, 4 key/value heads of 8: a row of the prefix is 5 * 2 * 32 wide
        Path out = trainsAndSaves("prefix_tuning", "{num_virtual_tokens: 8}", 1.0e-2);
        promptEmbeddings(out, new long[] {8, 320}, "PREFIX_TUNING");
    }

    @Test
    public void houlsbyAdaptersTrainAndSaveAdapterHubsFiles() throws Exception {
        Path out = trainsAndSaves("adapter", "{config: double_seq_bn, reduction_factor: 16}", 1.0e-2);
        try (var a = ai.attune.api.io.SafetensorsFile.open(out.resolve("final/adapter.safetensors"))) {
            assertEquals(40, a.names().size()); // 5 layers x {attention, output} x {down, up} x {weight, bias}
            assertTrue(java.util.Arrays.equals(new long[] {4, 64},
                    a.info("model.layers.0.attention_adapters.adapters.default.adapter_down.0.weight").shape()));
        }
        assertTrue(Files.readString(out.resolve("final/adapter_config.json")).contains("\"mh_adapter\" : true"));
    }

    /**
     * Full fine-tuning with Adafactor and no lr, transformers' defaults: the schedule is ignored
     * with one line, and every step moves each weight tensor by at most its relative step
     * 1e-2 * max(1e-3, rms(w)) in RMS (the update is clipped to RMS 1); a vector's first update is
     * sign(g), so it moves every element by exactly that step. (The weights are checked against an
     * f64 reference in runtime's AdafactorTrainingTest.)
     */
    @Test
    public void fullFineTuningWithAdafactorTakesRelativeStepsWithoutAnLr() throws Exception {
        Path base = Files.createTempDirectory("attune-adafactor");
        Path recipe = base.resolve("recipe.yaml");
        Path out = base.resolve("run");
        Files.writeString(recipe, """
                model: ../shared/models/stories260K
                method: full
                data: {format: text, path: ../shared/data/text/mobydick.txt, max_seq_len: 32, truncate: true, shuffle: false}
                train:
                  micro_batch_size: 2
                  gradient_accumulation_steps: 2
                  max_steps: 3
                  save_every: 1
                  optimizer: {name: adafactor, lr: null}
                  max_grad_norm: 1.0
                output: %s
                """.formatted(out));
        LauncherIT.Result r = LauncherIT.attuneIn(RECIPE.getParent().getParent(), "train", recipe.toString());
        assertEquals(r.err(), 0, r.code());
        assertTrue(r.out(), r.out().startsWith("trained 3 steps: loss "));
        assertEquals(r.err(), 1, r.err().lines()
                .filter(l -> l.equals("train: train.schedule is ignored: adafactor computes its own step size (train.optimizer.lr is null)")).count());
        List<String> steps = Files.readAllLines(out.resolve("events.jsonl")).stream().filter(l -> l.contains("\"type\":\"step\"")).toList();
        assertEquals(3, steps.size());
        assertTrue(steps.toString(), steps.stream().noneMatch(l -> l.contains("\"lr\"")));

        java.util.Map<String, float[]> before = floats(Path.of(LauncherIT.STORIES).resolve("model.safetensors"));
        List<Path> after = List.of(out.resolve("checkpoint-1/trainable.safetensors"), out.resolve("checkpoint-2/trainable.safetensors"),
                out.resolve("final/model.safetensors"));
        for (int step = 1; step <= 3; step++) {
            java.util.Map<String, float[]> now = floats(after.get(step - 1));
            assertEquals(before.keySet(), now.keySet());
            for (String name : now.keySet()) {
                float[] w0 = before.get(name);
                float[] w1 = now.get(name);
                double lr = 1e-2 * Math.max(1e-3, rms(w0, null));
                double moved = rms(w1, w0);
                assertTrue(name + " at step " + step + " moved " + moved + " in RMS, more than its step " + lr, moved <= lr * (1 + 1e-4));
                assertTrue(name + " at step " + step + " barely moved: " + moved + " against " + lr, moved > 0.05 * lr);
                if (step == 1 && w0.length == 64) { // the RMSNorm weights
                    for (int i = 0; i < w0.length; i++) {
                        assertEquals(name + "[" + i + "]", lr, Math.abs(w1[i] - w0[i]), lr * 1e-4);
                    }
                }
            }
            before = now;
        }
        try (var opt = ai.attune.api.io.SafetensorsFile.open(out.resolve("checkpoint-2/optimizer.safetensors"))) {
            // q_proj [64, 64] keeps 64 + 64 numbers, not 4,096; the embedding [512, 64] 512 + 64
            assertTrue(java.util.Arrays.equals(new long[] {64}, opt.info("model.layers.0.self_attn.q_proj.weight/exp_avg_sq_row").shape()));
            assertTrue(java.util.Arrays.equals(new long[] {512}, opt.info("model.embed_tokens.weight/exp_avg_sq_row").shape()));
            assertTrue(java.util.Arrays.equals(new long[] {64}, opt.info("model.embed_tokens.weight/exp_avg_sq_col").shape()));
            assertTrue(java.util.Arrays.equals(new long[] {64}, opt.info("model.norm.weight/exp_avg_sq").shape()));
            assertEquals(2.0, opt.data("model.norm.weight/step").get(java.lang.foreign.ValueLayout.JAVA_DOUBLE_UNALIGNED, 0), 0);
        }
    }

    private static java.util.Map<String, float[]> floats(Path safetensors) throws Exception {
        java.util.Map<String, float[]> out = new java.util.TreeMap<>();
        try (var f = ai.attune.api.io.SafetensorsFile.open(safetensors)) {
            for (String name : f.names()) {
                out.put(name, f.data(name).toArray(java.lang.foreign.ValueLayout.JAVA_FLOAT));
            }
        }
        return out;
    }

    /** rms(a - b), or rms(a) when b is null, in double. */
    private static double rms(float[] a, float[] b) {
        double ss = 0;
        for (int i = 0; i < a.length; i++) {
            double d = a[i] - (b == null ? 0 : b[i]);
            ss += d * d;
        }
        return Math.sqrt(ss / a.length);
    }

    private static void promptEmbeddings(Path out, long[] shape, String peftType) throws Exception {
        try (var a = ai.attune.api.io.SafetensorsFile.open(out.resolve("final/adapter_model.safetensors"))) {
            assertEquals(java.util.Set.of("prompt_embeddings"), a.names());
            assertTrue(java.util.Arrays.equals(shape, a.info("prompt_embeddings").shape()));
        }
        assertTrue(Files.readString(out.resolve("final/adapter_config.json")).contains("\"peft_type\" : \"" + peftType + "\""));
    }

    /** A method that freezes the base, from the launcher: 30 steps on Moby-Dick; the loss must fall. Returns the run directory. */
    private static Path trainsAndSaves(String method, String block, double lr) throws Exception {
        Path base = Files.createTempDirectory("attune-" + method);
        Path recipe = base.resolve("recipe.yaml");
        Path out = base.resolve("run");
        Files.writeString(recipe, """
                model: ../shared/models/stories260K
                method: %s
                %s: %s
                data: {format: text, path: ../shared/data/text/mobydick.txt, max_seq_len: 32, truncate: true, shuffle: true}
                train:
                  micro_batch_size: 8
                  max_steps: 30
                  optimizer: {name: adamw, lr: %s, weight_decay: 0.0}
                  schedule: {name: constant}
                output: %s
                """.formatted(method, method, block, lr, out));
        LauncherIT.Result r = LauncherIT.attuneIn(RECIPE.getParent().getParent(), "train", recipe.toString());
        assertEquals(r.err(), 0, r.code());
        List<Double> losses = new java.util.ArrayList<>();
        for (String line : Files.readAllLines(out.resolve("events.jsonl"))) {
            if (line.contains("\"type\":\"step\"")) {
                losses.add(Double.parseDouble(line.replaceAll(".*\"loss\":([-0-9.eE]+).*", "$1")));
            }
        }
        assertEquals(30, losses.size());
        double first = losses.subList(0, 5).stream().mapToDouble(Double::doubleValue).average().orElseThrow();
        double last = losses.subList(25, 30).stream().mapToDouble(Double::doubleValue).average().orElseThrow();
        assertTrue(method + " adapts the frozen model: " + first + " -> " + last, last < first - 0.1);
        // The saved adapter is found by its method through the registry: it generates and scores, and export says it cannot merge it.
        LauncherIT.Result g = LauncherIT.attuneIn(RECIPE.getParent().getParent(), "generate", "--model", "../shared/models/stories260K",
                "--adapter", out.resolve("final").toString(), "--prompt", "The whale", "--max-new-tokens", "8");
        assertEquals(g.err(), 0, g.code());
        assertFalse(g.err(), g.out().isBlank());
        Path ids = Files.writeString(base.resolve("ids.jsonl"), "{\"input_ids\":[1, 403, 407, 261, 30, 9]}\n");
        LauncherIT.Result sc = LauncherIT.attuneIn(RECIPE.getParent().getParent(), "score", "--model", "../shared/models/stories260K",
                "--adapter", out.resolve("final").toString(), "--input", ids.toString(), "--out", base.resolve("logits.safetensors").toString());
        assertEquals(sc.err(), 0, sc.code());
        assertTrue(sc.out(), sc.out().contains("\"tokens\":6"));
        try (var logits = ai.attune.api.io.SafetensorsFile.open(base.resolve("logits.safetensors"))) {
            assertTrue(java.util.Arrays.equals(new long[] {6, 512}, logits.info("logits.0").shape()));
        }
        LauncherIT.Result ex = LauncherIT.attuneIn(RECIPE.getParent().getParent(), "export", "--model", "../shared/models/stories260K",
                "--adapter", out.resolve("final").toString(), "--out", base.resolve("merged").toString());
        assertEquals(ex.err(), 1, ex.code());
        assertTrue(ex.err(), ex.err().contains("cannot be merged into its weights"));
        assertFalse(Files.exists(base.resolve("merged")));
        return out;
    }
}
