package ai.attune.runtime.train;

import ai.attune.api.data.Example;
import ai.attune.api.io.SafetensorsFile;
import ai.attune.api.tensor.Scope;
import ai.attune.kernels.jvm.JvmBackend;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A run interrupted after its step-4 checkpoint and resumed ends with the same bits as one that never stopped. */
class ResumeTest {
    static final String LORA = "{\"r\": 4, \"alpha\": 8, \"dropout\": 0.1, \"target_modules\": [\"q_proj\", \"v_proj\", \"down_proj\"]}";

    @TempDir
    Path dir;

    /** Thrown by the progress hook to stand in for a kill: the step's checkpoint, if due, is never written. */
    static final class Crash extends RuntimeException {
        Crash() {
            super("simulated crash");
        }
    }

    void run(List<Example> data, Path runDir, boolean resume, long crashAtStep) throws Exception {
        run(data, runDir, resume, crashAtStep, StepControl.NONE);
    }

    void run(List<Example> data, Path runDir, boolean resume, long crashAtStep, StepControl control) throws Exception {
        JvmBackend be = new JvmBackend();
        try (Scope job = Scope.open("job")) {
            TrainingRun.Setup s = StoriesLoraRuns.setup(be, job, LORA, 3e-3, 6, 2, 0, 17);
            RunDirectory rd = new RunDirectory(runDir);
            if (!resume) {
                rd.create("test: true\n");
            }
            new TrainingRun(s, data, List.of(), List.of(), rd, e -> {
                if (e.path("step").asLong() == crashAtStep) {
                    throw new Crash();
                }
            }, control).run(resume);
        }
    }

    /** Hands over the given commands at the boundary before step {@code key + 1}, as a lab server's control address would. */
    static StepControl scripted(Map<Long, List<ControlCommand>> at) {
        return new StepControl() {
            long boundary;

            @Override
            public List<ControlCommand> commands() {
                return at.getOrDefault(boundary, List.of());
            }

            @Override
            public boolean beforeStep(long step) {
                boundary = step + 1;
                return true;
            }
        };
    }

    static ControlCommand scale(double factor) {
        return ControlCommand.parse(new ObjectMapper().createObjectNode().put("command", "scale_lr").put("factor", factor));
    }

    static Map<String, float[]> adapter(Path run) throws Exception {
        Map<String, float[]> out = new TreeMap<>();
        try (SafetensorsFile f = SafetensorsFile.open(run.resolve("final/adapter_model.safetensors"))) {
            for (String name : f.names()) {
                out.put(name, f.data(name).toArray(java.lang.foreign.ValueLayout.JAVA_FLOAT));
            }
        }
        return out;
    }

    /**
     * Learning-rate commands sent to a run are recorded in events.jsonl; resumed from its step-4
     * checkpoint without any control, the run folds in the one sent before the checkpoint, applies
     * the two at and after it again at their boundaries, and ends with the bits of the run that
     * never stopped. Without the commands the run ends elsewhere, so the comparison can fail.
     */
    @Test
    void controlCommandsAreReplayedOnResume() throws Exception {
        List<Example> data = StoriesLoraRuns.examples(StoriesLoraRuns.mobyDick(dir, "train.jsonl", 0, 40));
        Map<Long, List<ControlCommand>> commands = Map.of(1L, List.of(scale(0.5)), 4L, List.of(scale(0.25)), 5L, List.of(scale(8)));
        Path whole = dir.resolve("whole");
        run(data, whole, false, -1, scripted(commands));
        Path plain = dir.resolve("plain");
        run(data, plain, false, -1);

        Path broken = dir.resolve("broken");
        assertThrows(Crash.class, () -> run(data, broken, false, 6, scripted(commands)));
        run(data, broken, true, -1, StepControl.NONE);

        Map<String, float[]> a = adapter(whole);
        Map<String, float[]> b = adapter(broken);
        assertEquals(a.keySet(), b.keySet());
        for (String name : a.keySet()) {
            assertArrayEquals(a.get(name), b.get(name), name + " differs after the resume");
        }
        assertFalse(java.util.Arrays.equals(a.get(a.keySet().iterator().next()), adapter(plain).get(a.keySet().iterator().next())),
                "the commands changed the run");

        ObjectMapper json = new ObjectMapper();
        List<JsonNode> events = new java.util.ArrayList<>();
        for (String l : Files.readAllLines(broken.resolve("events.jsonl"))) {
            events.add(json.readTree(l));
        }
        List<String> controls = events.stream().filter(e -> e.path("type").asText().equals("control"))
                .map(e -> e.path("step").asLong() + ":" + e.path("factor").asDouble()).toList();
        assertEquals(List.of("1:0.5", "4:0.25", "5:8.0"), controls, "each command is recorded once, at its boundary");
        Map<Long, Double> lr = new TreeMap<>();
        Map<Long, Double> plainLr = new TreeMap<>();
        events.stream().filter(e -> e.path("type").asText().equals("step")).forEach(e -> lr.put(e.path("step").asLong(), e.path("lr").asDouble()));
        for (String l : Files.readAllLines(plain.resolve("events.jsonl"))) {
            JsonNode e = json.readTree(l);
            if (e.path("type").asText().equals("step")) {
                plainLr.put(e.path("step").asLong(), e.path("lr").asDouble());
            }
        }
        double[] factor = {1, 0.5, 0.5, 0.5, 0.125, 1.0}; // steps 1..6: the product of the factors sent before each
        for (long step = 1; step <= 6; step++) {
            assertEquals(plainLr.get(step) * factor[(int) step - 1], lr.get(step), 1e-15, "lr of step " + step);
        }
    }

    @Test
    void resumedRunIsBitExact() throws Exception {
        List<Example> data = StoriesLoraRuns.examples(StoriesLoraRuns.mobyDick(dir, "train.jsonl", 0, 40));
        Path whole = dir.resolve("whole");
        run(data, whole, false, -1);

        Path broken = dir.resolve("broken");
        assertThrows(Crash.class, () -> run(data, broken, false, 5));
        assertTrue(Files.exists(broken.resolve("checkpoint-4")), "the step-4 checkpoint was written before the crash");
        run(data, broken, true, -1);

        try (SafetensorsFile a = SafetensorsFile.open(whole.resolve("final/adapter_model.safetensors"));
             SafetensorsFile b = SafetensorsFile.open(broken.resolve("final/adapter_model.safetensors"))) {
            assertEquals(a.names(), b.names());
            for (String name : a.names()) {
                MemorySegment x = a.data(name);
                MemorySegment y = b.data(name);
                assertEquals(-1, x.mismatch(y), name + " differs");
            }
        }
        long stepLines = Files.readAllLines(broken.resolve("events.jsonl")).stream().filter(l -> l.contains("\"type\":\"step\"")).count();
        assertEquals(6, stepLines, "steps 5 and 6 are reported once, after the resume");
    }
}
