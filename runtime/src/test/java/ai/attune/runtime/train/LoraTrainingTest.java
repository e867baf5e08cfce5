package ai.attune.runtime.train;

import ai.attune.api.data.Example;
import ai.attune.api.tensor.Scope;
import ai.attune.kernels.jvm.JvmBackend;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Real training: LoRA on stories260K (trained on children's stories) adapts it to Moby-Dick. */
class LoraTrainingTest {
    @TempDir
    Path dir;

    @Test
    void loraLowersHeldOutPerplexityOnMobyDick() throws Exception {
        List<Example> train = StoriesLoraRuns.examples(StoriesLoraRuns.mobyDick(dir, "train.jsonl", 0, 200));
        List<Example> heldOut = StoriesLoraRuns.examples(StoriesLoraRuns.mobyDick(dir, "eval.jsonl", 400, 24));
        JvmBackend be = new JvmBackend();
        double before;
        TrainingRun.Result r;
        try (Scope job = Scope.open("job")) {
            TrainingRun.Setup s = StoriesLoraRuns.setup(be, job,
                    "{\"r\": 8, \"alpha\": 16, \"target_modules\": \"all-linear\"}", 1e-2, 40, 0, 20, 1);
            RunDirectory rd = new RunDirectory(dir.resolve("run"));
            rd.create("test: true\n");
            TrainingRun run = new TrainingRun(s, train, heldOut, List.of(), rd, e -> { });
            before = Math.exp(run.meanNll(heldOut));
            r = run.run(false);
        }
        double after = Math.exp(r.evalLoss());
        assertTrue(after < 0.8 * before, "held-out perplexity " + before + " -> " + after);

        List<Double> losses = new ArrayList<>();
        ObjectMapper json = new ObjectMapper();
        for (String line : Files.readAllLines(dir.resolve("run/events.jsonl"))) {
            JsonNode n = json.readTree(line);
            if (n.path("type").asText().equals("step")) {
                losses.add(n.path("loss").asDouble());
            }
        }
        assertEquals(40, losses.size());
        double first = losses.subList(0, 5).stream().mapToDouble(Double::doubleValue).average().orElseThrow();
        double last = losses.subList(35, 40).stream().mapToDouble(Double::doubleValue).average().orElseThrow();
        assertTrue(last < first, "the loss curve falls: first five " + first + ", last five " + last);
        assertTrue(Files.exists(dir.resolve("run/final/adapter_model.safetensors")));
    }
}
