package ai.attune.runtime.train;

import ai.attune.api.data.Example;
import ai.attune.api.tensor.Scope;
import ai.attune.kernels.jvm.JvmBackend;
import ai.attune.plugins.memory.mixedprecision.MixedPrecision;
import ai.attune.plugins.memory.mixedprecision.MixedPrecisionConfig;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * LoRA on the pretrained stories260K in f32, bf16 and f16 mixed precision through the training
 * loop: the low-precision loss curves follow the f32 one, and an f16 loss scale that overflows
 * skips steps and backs off until the gradients fit, as GradScaler does.
 */
class MixedPrecisionRunTest {
    private static final String LORA = "{\"r\": 8, \"alpha\": 16, \"target_modules\": \"all-linear\"}";

    @TempDir
    Path dir;

    private List<JsonNode> steps(MixedPrecisionConfig config, String name, List<Example> train) throws IOException {
        try (Scope job = Scope.open("job")) {
            TrainingRun.Setup s = StoriesLoraRuns.setup(new JvmBackend(), job, LORA, 1e-2, 12, 0, 0, 1,
                    config == null ? null : model -> new MixedPrecision().apply(model, config));
            RunDirectory rd = new RunDirectory(dir.resolve(name));
            rd.create("test: true\n");
            new TrainingRun(s, train, List.of(), List.of(), rd, e -> { }).run(false);
        }
        ObjectMapper json = new ObjectMapper();
        return Files.readAllLines(dir.resolve(name).resolve("events.jsonl")).stream().map(l -> {
            try {
                return json.readTree(l);
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        }).filter(e -> e.path("type").asText().equals("step")).toList();
    }

    @Test
    void lowPrecisionCurvesFollowF32AndAnOverflowingScaleBacksOff() throws IOException {
        List<Example> train = StoriesLoraRuns.examples(StoriesLoraRuns.mobyDick(dir, "train.jsonl", 0, 120));
        List<JsonNode> f32 = steps(null, "f32", train);
        List<JsonNode> bf16 = steps(new MixedPrecisionConfig("bf16", 65536, 2, 0.5, 2000), "bf16", train);
        List<JsonNode> f16 = steps(new MixedPrecisionConfig("fp16", 65536, 2, 0.5, 2000), "f16", train);
        for (int i = 0; i < 12; i++) {
            double ref = f32.get(i).path("loss").asDouble();
            assertEquals(ref, bf16.get(i).path("loss").asDouble(), 0.01 * ref, "bf16 step " + (i + 1));
            assertEquals(ref, f16.get(i).path("loss").asDouble(), 0.002 * ref, "f16 step " + (i + 1));
        }
        System.out.printf("stories260K LoRA, 12 steps: final loss f32 %.4f, bf16 %.4f, f16 %.4f%n", f32.getLast().path("loss").asDouble(),
                bf16.getLast().path("loss").asDouble(), f16.getLast().path("loss").asDouble());

        // A scale of 2^26 overflows f16 gradients: steps are skipped, halving the scale each time, until they fit.
        List<JsonNode> hot = steps(new MixedPrecisionConfig("fp16", Math.pow(2, 26), 2, 0.5, 2000), "f16-hot", train);
        long skipped = hot.stream().filter(e -> e.path("skipped").asBoolean()).count();
        assertTrue(skipped >= 1 && hot.getFirst().path("skipped").asBoolean(), "the first step overflows: " + hot);
        assertTrue(!hot.getLast().path("skipped").asBoolean(), "the scale came down far enough to train: " + hot.getLast());
        for (int i = 0; i < skipped; i++) {
            assertEquals(Math.pow(2, 25 - i), hot.get(i).path("scale").asDouble(), 0.0, "backed off at step " + (i + 1));
        }
    }
}
