package ai.attune.runtime.train;

import ai.attune.api.data.Example;
import ai.attune.api.io.SafetensorsFile;
import ai.attune.api.tensor.Scope;
import ai.attune.kernels.jvm.JvmBackend;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
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
            }).run(resume);
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
