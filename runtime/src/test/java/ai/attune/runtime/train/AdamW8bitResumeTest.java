package ai.attune.runtime.train;

import ai.attune.api.data.Example;
import ai.attune.api.io.SafetensorsFile;
import ai.attune.api.io.SafetensorsReader;
import ai.attune.api.model.CausalLM;
import ai.attune.api.model.ModelConfig;
import ai.attune.api.nn.DropoutSeeds;
import ai.attune.api.optim.LrSchedule;
import ai.attune.api.spi.Method;
import ai.attune.api.spi.MethodContext;
import ai.attune.api.spi.MemoryStrategy;
import ai.attune.api.spi.Optimizer;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.kernels.jvm.JvmBackend;
import ai.attune.plugins.lora.LoraMethod;
import ai.attune.plugins.model.llama.LlamaFamily;
import ai.attune.plugins.optim.adamw8bit.AdamW8bitOptimizer;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * ResumeTest's run with 8-bit AdamW: the codes and block maxima go into the checkpoint as u8 and
 * f32 tensors, come back with their dtypes, and the resumed run ends with the same bits as the
 * one that never stopped.
 */
class AdamW8bitResumeTest {
    @TempDir
    Path dir;

    /** min_8bit_size 0: the LoRA matrices (at most 4 x 128) are coded too, not kept in f32. */
    @SuppressWarnings({"unchecked", "rawtypes"})
    void run(List<Example> data, Path runDir, boolean resume, long crashAtStep) throws Exception {
        JvmBackend be = new JvmBackend();
        try (Scope job = Scope.open("job")) {
            CausalLM lm;
            try (SafetensorsReader w = SafetensorsReader.openModelDir(StoriesLoraRuns.STORIES)) {
                lm = (CausalLM) new LlamaFamily().load(ModelConfig.read(StoriesLoraRuns.STORIES), w, be, DType.F32, job);
            }
            RecipeLoader loader = new RecipeLoader();
            LoraMethod lora = new LoraMethod();
            Object cfg = loader.bindConfig(new ObjectMapper().readTree(ResumeTest.LORA), lora.defaultConfig(), lora.configType(), "lora", "test");
            AdamW8bitOptimizer opt = new AdamW8bitOptimizer();
            Object optCfg = loader.bindConfig(new ObjectMapper().readTree("{\"min_8bit_size\": 0}"), opt.defaultConfig(), opt.configType(),
                    "train.optimizer", "test");
            MethodContext ctx = new MethodContext(be, DType.F32, job, 17, new DropoutSeeds(17), StoriesLoraRuns.STORIES, null);
            TrainingRun.Setup s = new TrainingRun.Setup(lm, (Method) lora, cfg, (Optimizer) opt, optCfg, LrSchedule.of("linear", 3e-3, 2, 6), ctx,
                    4, 2, 6, true, 1.0, 0, 2, new MemoryStrategy.Session() { });
            RunDirectory rd = new RunDirectory(runDir);
            if (!resume) {
                rd.create("test: true\n");
            }
            new TrainingRun(s, data, List.of(), List.of(), rd, e -> {
                if (e.path("step").asLong() == crashAtStep) {
                    throw new ResumeTest.Crash();
                }
            }, StepControl.NONE).run(resume);
        }
    }

    @Test
    void resumedRunIsBitExact() throws Exception {
        List<Example> data = StoriesLoraRuns.examples(StoriesLoraRuns.mobyDick(dir, "train.jsonl", 0, 40));
        Path whole = dir.resolve("whole");
        run(data, whole, false, -1);

        Path broken = dir.resolve("broken");
        assertThrows(ResumeTest.Crash.class, () -> run(data, broken, false, 5));
        Path checkpoint = broken.resolve("checkpoint-4");
        assertTrue(Files.exists(checkpoint), "the step-4 checkpoint was written before the crash");
        try (SafetensorsFile opt = SafetensorsFile.open(checkpoint.resolve(Checkpoint.OPTIMIZER))) {
            // lora_A of q_proj is [4, 64]: 256 codes per moment and one block maximum
            String p = "model.layers.0.self_attn.q_proj.lora_A.weight/";
            assertEquals(DType.U8, opt.info(p + "state1").dtype());
            assertEquals(DType.U8, opt.info(p + "state2").dtype());
            assertArrayEquals(new long[] {4, 64}, opt.info(p + "state1").shape());
            assertEquals(DType.F32, opt.info(p + "absmax1").dtype());
            assertArrayEquals(new long[] {1}, opt.info(p + "absmax2").shape());
            assertEquals(4.0, opt.data(p + "step").get(java.lang.foreign.ValueLayout.JAVA_DOUBLE_UNALIGNED, 0));
        }
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
    }
}
