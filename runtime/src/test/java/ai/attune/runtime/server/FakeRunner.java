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
 * Commands are recorded as control events at the boundary they arrive at; each step also reports
 * a {@code metric} event from {@code method/fake}. A step of a recipe whose {@code train.seed} is 7 throws, as a broken plugin would; one whose seed
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
        long done = Files.exists(events) ? Files.readAllLines(events).stream().filter(l -> l.contains("\"type\":\"step\"")).count() : 0;
        for (long step = done; step < max; step++) {
            do {
                for (var c : control.commands()) {
                    append(events, c.writeTo(json.createObjectNode().put("type", "control").put("step", step)), steps);
                }
            } while (!control.beforeStep(step));
            if (recipe.path("train").path("seed").asInt() == 7) {
                throw new IllegalStateException("adamw: boom");
            }
            Thread.sleep(stepMillis);
            ObjectNode e = json.createObjectNode().put("type", "step").put("step", step + 1).put("loss", 1.0 / (step + 1))
                    .put("tokens_per_second", 100.0);
            append(events, e, steps);
            ObjectNode m = json.createObjectNode().put("type", "metric").put("step", step + 1).put("source", "method/fake");
            m.putObject("values").put("fake_norm", 2.0 * (step + 1));
            append(events, m, steps);
        }
        Files.createDirectories(runDir.resolve("final"));
        Files.writeString(runDir.resolve("final/adapter_model.safetensors"), "steps=" + max);
    }

    private static void append(Path events, ObjectNode e, Consumer<ObjectNode> steps) throws java.io.IOException {
        Files.writeString(events, e + "\n", StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        steps.accept(e);
    }
}
