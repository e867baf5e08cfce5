package ai.attune.runtime.plan;

import ai.attune.api.data.Example;
import ai.attune.api.model.CausalLM;
import ai.attune.api.model.ModelConfig;
import ai.attune.api.spi.Kind;
import ai.attune.api.tensor.BlockPool;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.kernels.jvm.JvmBackend;
import ai.attune.plugins.lora.LoraMethod;
import ai.attune.plugins.memory.checkpointing.GradientCheckpointing;
import ai.attune.plugins.memory.mixedprecision.MixedPrecision;
import ai.attune.plugins.method.full.FullFineTuning;
import ai.attune.plugins.model.llama.LlamaFamily;
import ai.attune.plugins.optim.adafactor.AdafactorOptimizer;
import ai.attune.plugins.optim.adamw.AdamWOptimizer;
import ai.attune.runtime.host.TestCatalog;
import ai.attune.runtime.train.Recipe;
import ai.attune.runtime.train.RecipeLoader;
import ai.attune.runtime.train.StepControl;
import ai.attune.runtime.train.TrainJob;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * The tensor service's own peak over real training steps of a zero-weight Llama, run as
 * {@code attune bench --method} runs them: the training loop of {@code attune train} over random
 * tokens, one warm-up step and then {@code steps} more, with the LoRA config and the strategies
 * open to the test. The oracle the planner's tensor rows are checked against, on shapes small
 * enough for a unit test.
 */
final class MeasuredStep {
    private MeasuredStep() {}

    /** Peak live tensor bytes over a warm-up step and {@code steps} more, with AdamW and no checkpointing. */
    static long peak(String configJson, String method, String loraJson, String precision, int batch, int seq, int steps) throws Exception {
        return peak(configJson, method, loraJson, precision, "adamw", false, batch, seq, steps);
    }

    /** The same with {@code optimizer} (adamw, adafactor: each plugin's defaults) and gradient checkpointing on or off. */
    static long peak(String configJson, String method, String loraJson, String precision, String optimizer, boolean checkpointing, int batch, int seq,
                     int steps) throws Exception {
        ObjectMapper json = new ObjectMapper();
        JvmBackend be = new JvmBackend();
        Path dir = Path.of("target", "plan-measured");
        Path felix = Files.createTempDirectory("measured-step");
        try (TestCatalog plugins = TestCatalog.start(felix)
                .register(Kind.MODEL, "llama", new LlamaFamily())
                .register(Kind.METHOD, "lora", new LoraMethod())
                .register(Kind.METHOD, "full", new FullFineTuning())
                .register(Kind.OPTIMIZER, "adamw", new AdamWOptimizer())
                .register(Kind.OPTIMIZER, "adafactor", new AdafactorOptimizer())
                .register(Kind.MEMORY, "mixed_precision", new MixedPrecision())
                .register(Kind.MEMORY, "gradient_checkpointing", new GradientCheckpointing())
                .register(Kind.BACKEND, "jvm", be)) {
            BlockPool.trim();
            try (Scope job = Scope.open("job")) {
                CausalLM lm = (CausalLM) new LlamaFamily().create(ModelConfig.of(dir, json.readTree(configJson)), be, DType.F32, job);
                String lora = loraJson == null ? (method.equals("lora") ? "{\"target_modules\": [\"q_proj\", \"v_proj\"]}" : "{}") : loraJson;
                ObjectNode root = json.createObjectNode();
                ObjectNode train = root.putObject("train").put("micro_batch_size", batch).put("max_steps", 1 + steps).put("precision", precision)
                        .put("gradient_checkpointing", checkpointing);
                ObjectNode opt = train.putObject("optimizer").put("name", optimizer);
                if (optimizer.equals("adamw")) {
                    opt.put("lr", 1e-4); // adafactor computes its own step size
                }
                Recipe.Train t = new RecipeLoader().bindBlock(root, "train", Recipe.Train.class, "test");
                BlockPool.resetPeak();
                new TrainJob(plugins.catalog(), new PrintWriter(new StringWriter()))
                        .inMemory("test", method, json.readTree(lora), t, lm, be, dir, job, randomTokens(lm.vocabSize(), batch, seq, 1 + steps), e -> {
                            if (Boolean.getBoolean("plan.debug") && e.path("type").asText().equals("step")) {
                                System.out.println("DEBUG after step " + e.path("step") + ": live " + BlockPool.liveBytes() + " reserved "
                                        + BlockPool.reservedBytes() + " peak " + BlockPool.peakBytes());
                            }
                        }, StepControl.NONE)
                        .run(false);
                return BlockPool.peakBytes();
            }
        }
    }

    /** {@code steps} x {@code batch} rows of {@code seq} uniform token ids, each its own labels, as the bench draws them. */
    private static List<Example> randomTokens(int vocab, int batch, int seq, int steps) {
        Random r = new Random(0);
        List<Example> out = new ArrayList<>();
        for (int s = 0; s < steps; s++) {
            long[] ids = r.longs((long) batch * seq, 0, vocab).toArray();
            for (int b = 0; b < batch; b++) {
                long[] row = java.util.Arrays.copyOfRange(ids, b * seq, (b + 1) * seq);
                out.add(new Example(row, row.clone()));
            }
        }
        return out;
    }
}
