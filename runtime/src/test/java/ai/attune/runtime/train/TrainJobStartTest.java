package ai.attune.runtime.train;

import ai.attune.api.data.DataException;
import ai.attune.api.spi.Kind;
import ai.attune.api.tensor.Scope;
import ai.attune.kernels.jvm.JvmBackend;
import ai.attune.plugins.data.text.TextFormat;
import ai.attune.plugins.lora.LoraMethod;
import ai.attune.plugins.model.llama.LlamaFamily;
import ai.attune.plugins.optim.adamw.AdamWOptimizer;
import ai.attune.runtime.data.QaFormat;
import ai.attune.runtime.host.TestCatalog;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A job that cannot start leaves no run directory, so the corrected command runs as it was typed;
 * a directory from a run that stopped before its first checkpoint is started afresh, one with a
 * checkpoint is refused. Runs the real TrainJob over stories260K with the plugins in a registry.
 */
class TrainJobStartTest {
    @TempDir
    Path dir;

    TestCatalog plugins;
    final StringWriter log = new StringWriter();
    Path out;
    Path data;

    @BeforeEach
    void registry() throws Exception {
        plugins = TestCatalog.start(dir.resolve("felix"))
                .register(Kind.MODEL, "llama", new LlamaFamily())
                .register(Kind.METHOD, "lora", new LoraMethod())
                .register(Kind.OPTIMIZER, "adamw", new AdamWOptimizer())
                .register(Kind.DATA_FORMAT, "text", new TextFormat())
                .register(Kind.DATA_FORMAT, "qa", new QaFormat())
                .register(Kind.BACKEND, "jvm", new JvmBackend());
        out = dir.resolve("run");
        data = StoriesLoraRuns.mobyDick(dir, "train.jsonl", 0, 16);
    }

    @AfterEach
    void stop() throws Exception {
        plugins.close();
    }

    /** The job as {@code attune train recipe.yaml --set ...} runs it. */
    TrainingRun.Result train(String... overrides) throws IOException {
        Path recipe = dir.resolve("recipe.yaml");
        Files.writeString(recipe, """
                model: %s
                method: lora
                lora: {r: 4, lora_alpha: 8, target_modules: [q_proj, v_proj]}
                data: {format: text, path: %s, max_seq_len: 64, truncate: true}
                train:
                  micro_batch_size: 4
                  max_steps: 2
                  optimizer: {name: adamw, lr: 1.0e-3}
                output: %s
                """.formatted(StoriesLoraRuns.STORIES.toAbsolutePath(), data, out));
        TrainJob job = new TrainJob(plugins.catalog(), new PrintWriter(log, true));
        TrainJob.Prepared p = job.prepare(recipe, new RecipeLoader().read(recipe, List.of(overrides)), null);
        try (Scope scope = Scope.open("job")) {
            return job.run(p, scope, e -> { }, StepControl.NONE);
        }
    }

    @Test
    void aMalformedLastDataLineLeavesNoRunDirectory() throws IOException {
        Files.writeString(data, "{\"text\": \"cut short\n", java.nio.file.StandardOpenOption.APPEND);
        DataException e = assertThrows(DataException.class, this::train);
        assertTrue(e.getMessage().startsWith("train.jsonl:17: not valid JSON"), e.getMessage());
        assertFalse(Files.exists(out), "no run directory");
    }

    @Test
    void anUnknownOptimizerLeavesNoRunDirectory() {
        RecipeException e = assertThrows(RecipeException.class, () -> train("train.optimizer.name=adamx"));
        assertEquals("recipe.yaml: train.optimizer.name 'adamx' is not installed; installed: [adamw]", e.getMessage());
        assertFalse(Files.exists(out));
    }

    @Test
    void aDataFormatThatIsNotInstalledLeavesNoRunDirectory() {
        RecipeException e = assertThrows(RecipeException.class, () -> train("data.format=chat"));
        assertEquals("recipe.yaml: data.format 'chat' is not installed; installed: [qa, text]", e.getMessage());
        assertFalse(Files.exists(out));
    }

    @Test
    void aJobTrainsOnAFormatFromAPluginTheRuntimeDoesNotKnow() throws IOException {
        // qa: loss on the answer only. "Once upon a time," / " there was a little girl named Lily." is 16 tokens, 10 of them
        // the answer's (TrainingDataTest's ids); two such rows differ by a trailing word so that dedup keeps both.
        Files.writeString(data, "{\"question\": \"Once upon a time,\", \"answer\": \" there was a little girl named Lily.\"}\n"
                + "{\"question\": \"Once upon a time,\", \"answer\": \" there was a little girl named Lily. She\"}\n");
        TrainingRun.Result r = train("data.format=qa");
        assertEquals(2, r.steps());
        assertTrue(log.toString().contains("data: train.jsonl: read 2 rows from train.jsonl (format qa)"), log.toString());
        assertTrue(log.toString().contains("data: train.jsonl: 2 examples, 33 tokens, 21 with loss"), log.toString());
    }

    @Test
    void targetModulesMatchingNothingLeaveNoRunDirectory() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> train("lora.target_modules=[qkv]"));
        assertTrue(e.getMessage().contains("[qkv] matched no module of the model"), e.getMessage());
        assertFalse(Files.exists(out));
    }

    @Test
    void aTruncatedModelLeavesNoRunDirectory() throws IOException {
        Path model = Files.createDirectories(dir.resolve("model"));
        try (var files = Files.list(StoriesLoraRuns.STORIES)) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                Files.write(model.resolve(f.getFileName()), Files.readAllBytes(f));
            }
        }
        byte[] weights = Files.readAllBytes(model.resolve("model.safetensors"));
        Files.write(model.resolve("model.safetensors"), java.util.Arrays.copyOf(weights, weights.length / 10));
        Exception e = assertThrows(Exception.class, () -> train("model=" + model));
        assertTrue(e.getMessage().startsWith("model.safetensors: tensor "), e.getMessage());
        assertFalse(Files.exists(out));
    }

    @Test
    void aRunThatStoppedBeforeItsFirstCheckpointIsStartedAfresh() throws IOException {
        Files.createDirectories(out);
        Files.writeString(out.resolve(RunDirectory.RECIPE), "model: an earlier attempt\n");
        Files.writeString(out.resolve(RunDirectory.EVENTS), "{\"type\":\"step\",\"step\":1,\"loss\":9.0}\n{\"type\":\"st");
        Files.createDirectories(out.resolve(".checkpoint-2.tmp-1a2b3c4d")); // a kill while the first checkpoint was written

        TrainingRun.Result r = train();

        assertEquals(2, r.steps());
        assertTrue(Files.isRegularFile(out.resolve("final/adapter_model.safetensors")));
        String recipe = Files.readString(out.resolve(RunDirectory.RECIPE));
        assertTrue(recipe.contains("target_modules") && !recipe.contains("earlier attempt"), "the recipe of this run: " + recipe);
        List<String> events = Files.readAllLines(out.resolve(RunDirectory.EVENTS));
        assertEquals(2, events.stream().filter(l -> l.contains("\"type\":\"step\"")).count(), String.join("\n", events));
        assertFalse(events.stream().anyMatch(l -> l.contains("\"loss\":9.0")), "the earlier attempt's step is gone");
        assertFalse(Files.exists(out.resolve(".checkpoint-2.tmp-1a2b3c4d")));
        assertTrue(log.toString().contains(out + " held a run that stopped before its first checkpoint; starting it afresh"), log.toString());
    }

    @Test
    void aRunWithACheckpointIsRefusedBeforeLoading() throws IOException {
        Files.createDirectories(out.resolve("checkpoint-2"));
        Files.writeString(out.resolve(RunDirectory.RECIPE), "model: an earlier run\n");
        Files.writeString(out.resolve("checkpoint-2").resolve(Checkpoint.STATE), "{\"step\": 2}");
        RecipeException e = assertThrows(RecipeException.class, this::train);
        assertTrue(e.getMessage().endsWith(": output directory " + out + " already holds a run; resume it with --resume " + out + " or choose another output"), e.getMessage());
        assertEquals("model: an earlier run\n", Files.readString(out.resolve(RunDirectory.RECIPE)));
    }

    @Test
    void aFinishedRunOrAForeignDirectoryIsRefused() throws IOException {
        Files.createDirectories(out.resolve("final"));
        assertTrue(assertThrows(RecipeException.class, this::train).getMessage()
                .endsWith(": output directory " + out + " holds a finished run (final/); choose another output"));
        Files.delete(out.resolve("final"));
        Files.writeString(out.resolve("notes.txt"), "mine");
        assertTrue(assertThrows(RecipeException.class, this::train).getMessage()
                .endsWith(": output directory " + out + " holds 'notes.txt', which is not part of a run; choose another output"));
        assertEquals("mine", Files.readString(out.resolve("notes.txt")));
    }
}
