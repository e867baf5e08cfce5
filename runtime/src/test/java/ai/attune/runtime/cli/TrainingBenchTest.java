package ai.attune.runtime.cli;

import ai.attune.api.data.Example;
import ai.attune.api.spi.Kind;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.kernels.jvm.JvmBackend;
import ai.attune.plugins.data.text.TokensFormat;
import ai.attune.plugins.lora.LoraMethod;
import ai.attune.plugins.model.llama.LlamaFamily;
import ai.attune.plugins.optim.adamw.AdamWOptimizer;
import ai.attune.runtime.host.TestCatalog;
import ai.attune.runtime.model.LoadedModel;
import ai.attune.runtime.model.ModelLoader;
import ai.attune.runtime.train.RecipeLoader;
import ai.attune.runtime.train.StepControl;
import ai.attune.runtime.train.TrainJob;
import ai.attune.runtime.train.TrainingRun;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code attune bench --method} times the loop {@code attune train} runs: LoRA on stories260K over
 * the bench's random tokens ends at the loss a recipe over the same tokens (as a {@code tokens}
 * file) reaches, bit for bit, and the reported sizes are those computed from the model's config.
 */
class TrainingBenchTest {
    static final Path STORIES = Path.of("../../shared/models/stories260K");
    static final int BATCH = 2;
    static final int SEQ = 32;
    static final int STEPS = 2;

    @TempDir
    Path dir;

    TestCatalog plugins;
    final JvmBackend be = new JvmBackend();

    @BeforeEach
    void registry() throws Exception {
        plugins = TestCatalog.start(dir.resolve("felix"))
                .register(Kind.MODEL, "llama", new LlamaFamily())
                .register(Kind.METHOD, "lora", new LoraMethod())
                .register(Kind.OPTIMIZER, "adamw", new AdamWOptimizer())
                .register(Kind.DATA_FORMAT, "tokens", new TokensFormat())
                .register(Kind.BACKEND, "jvm", be);
    }

    @AfterEach
    void stop() throws Exception {
        plugins.close();
    }

    private TrainingBench.Measured bench(boolean profile) throws IOException {
        try (Scope job = Scope.open("bench"); LoadedModel m = new ModelLoader(plugins.catalog()).load(STORIES, null, be, DType.F32, job)) {
            return new TrainingBench(plugins.catalog(), be, new PrintWriter(new StringWriter()))
                    .run(new BenchCommand.Named(m.module(), "stories260K", STORIES), new TrainingBench.Options("lora", "adamw", "fp32", false, BATCH, SEQ,
                            STEPS, profile), ai.attune.api.dist.ProcessGroup.single());
        }
    }

    /** The bench's examples as a recipe's data file, trained by TrainJob with the keys the bench leaves at their defaults. */
    private TrainingRun.Result recipe() throws IOException {
        ObjectMapper json = new ObjectMapper();
        List<String> lines = new ArrayList<>();
        for (Example e : TrainingBench.randomTokens(512, BATCH, SEQ, TrainingBench.WARM_UP_STEPS + STEPS)) {
            lines.add(json.writeValueAsString(Map.of("input_ids", e.inputIds())));
        }
        Path data = Files.write(dir.resolve("tokens.jsonl"), lines);
        Path recipe = Files.writeString(dir.resolve("recipe.yaml"), """
                model: %s
                method: lora
                data: {format: tokens, path: %s, shuffle: false}
                train:
                  micro_batch_size: %d
                  max_steps: %d
                  optimizer: {name: adamw, lr: 1.0e-4}
                output: %s
                """.formatted(STORIES.toAbsolutePath(), data, BATCH, TrainingBench.WARM_UP_STEPS + STEPS, dir.resolve("run")));
        TrainJob job = new TrainJob(plugins.catalog(), new PrintWriter(new StringWriter()));
        TrainJob.Prepared p = job.prepare(recipe, new RecipeLoader().read(recipe, List.of()), null);
        try (Scope scope = Scope.open("job")) {
            return job.run(p, scope, e -> { }, StepControl.NONE);
        }
    }

    @Test
    void theBenchTakesTheStepsARecipeTakesAndReportsTheModelsSizes() throws IOException {
        TrainingBench.Measured m = bench(true);
        TrainingRun.Result r = recipe();
        assertEquals(r.lastLoss(), m.lastLoss(), 0.0, "the same loop over the same tokens");
        assertEquals(r.optimizerStateBytes(), m.json().path("optimizer_state_bytes").asLong());

        // stories260K: 5 layers, hidden 64, 8 heads and 4 key/value heads of 8; LoRA's defaults for llama: r 8 on q_proj and v_proj.
        long perLayer = (8 * 64 + 64 * 8) + (8 * 64 + 4 * 8 * 8);
        long trained = 5 * perLayer;
        // AdamW: exp_avg and exp_avg_sq in f32 for each trained tensor, and its step count as one f64.
        assertEquals(2 * 4 * trained + 5 * 4 * 8, m.json().path("optimizer_state_bytes").asLong());
        assertTrue(m.header().contains("8,960 trained"), m.header());
        assertTrue(m.header().contains("batch 2 x 32 tokens"), m.header());

        JsonNode j = m.json();
        for (String field : List.of("tokens_per_second", "step_ms_median", "peak_rss_mb", "tensor_peak_mb", "mfu")) {
            assertTrue(Double.isFinite(j.path(field).asDouble()) && j.path(field).asDouble() > 0, field + " = " + j.path(field));
        }
        assertEquals(BATCH * SEQ / (j.path("step_ms_median").asDouble() / 1e3), j.path("tokens_per_second").asDouble(), 1e-9 * j.path("tokens_per_second").asDouble());
        assertEquals(0, j.path("quantized_weight_bytes").asLong());
        assertEquals(m.lastLoss(), j.path("loss").asDouble(), 0.0);
        assertFalse(j.path("gradient_checkpointing").asBoolean());

        // The profile holds the timed steps alone: one loss (and one backward of it) per step, not the warm-up's.
        JsonNode loss = null;
        for (JsonNode row : j.path("profile")) {
            if (row.path("op").asText().equals("aten::cross_entropy_loss")) {
                loss = row;
            }
        }
        assertTrue(loss != null, j.path("profile").toString());
        assertEquals(STEPS, loss.path("calls").asInt());
    }
}
