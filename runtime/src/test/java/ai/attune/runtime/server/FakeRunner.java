package ai.attune.runtime.server;

import ai.attune.runtime.train.StepControl;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.function.Consumer;

/**
 * A job runner without tensors: {@code train.max_steps} steps with loss 1/step, each appended to
 * events.jsonl as TrainingRun does, then a final/adapter_model.safetensors holding the step count.
 * A step of a recipe whose {@code train.seed} is 7 throws, as a broken plugin would; one whose seed
 * is 8 throws before its first step, as a truncated model file would.
 */
final class FakeRunner implements JobRunner {
    private final ObjectMapper json = new ObjectMapper();
    private final long stepMillis;

    FakeRunner(long stepMillis) {
        this.stepMillis = stepMillis;
    }

    @Override
    public void create(Path runDir, ObjectNode recipe) throws Exception {
        if (!recipe.path("train").has("max_steps")) {
            throw new IllegalArgumentException("recipe.yaml: missing key 'train.max_steps'");
        }
        Files.writeString(runDir.resolve("recipe.yaml"), recipe.toString());
    }

    @Override
    public void run(Path runDir, StepControl control, Consumer<ObjectNode> steps) throws Exception {
        ObjectNode recipe = (ObjectNode) json.readTree(runDir.resolve("recipe.yaml").toFile());
        long max = recipe.path("train").path("max_steps").asLong();
        if (recipe.path("train").path("seed").asInt() == 8) {
            throw new java.io.IOException("model.safetensors: tensor 'w': data_offsets [0, 64] extend past the data buffer (10 bytes)");
        }
        Path events = runDir.resolve("events.jsonl");
        long done = Files.exists(events) ? Files.readAllLines(events).stream().filter(l -> l.contains("\"step\"")).count() : 0;
        for (long step = done; step < max; step++) {
            control.beforeStep(step);
            if (recipe.path("train").path("seed").asInt() == 7) {
                throw new IllegalStateException("adamw: boom");
            }
            Thread.sleep(stepMillis);
            ObjectNode e = json.createObjectNode().put("type", "step").put("step", step + 1).put("loss", 1.0 / (step + 1))
                    .put("tokens_per_second", 100.0);
            Files.writeString(events, e + "\n", StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
            steps.accept(e);
        }
        Files.createDirectories(runDir.resolve("final"));
        Files.writeString(runDir.resolve("final/adapter_model.safetensors"), "steps=" + max);
    }
}
