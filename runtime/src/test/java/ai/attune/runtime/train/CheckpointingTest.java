package ai.attune.runtime.train;

import ai.attune.api.autograd.Autograd;
import ai.attune.api.io.SafetensorsReader;
import ai.attune.api.model.CausalLM;
import ai.attune.api.model.ModelConfig;
import ai.attune.api.nn.DropoutSeeds;
import ai.attune.api.nn.Module;
import ai.attune.api.nn.Parameter;
import ai.attune.api.optim.LrSchedule;
import ai.attune.api.spi.MemoryStrategy;
import ai.attune.api.spi.Method;
import ai.attune.api.spi.MethodContext;
import ai.attune.api.spi.Optimizer;
import ai.attune.api.tensor.BlockPool;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;
import ai.attune.kernels.jvm.JvmBackend;
import ai.attune.plugins.memory.checkpointing.CheckpointingConfig;
import ai.attune.plugins.memory.checkpointing.GradientCheckpointing;
import ai.attune.plugins.memory.mixedprecision.MixedPrecision;
import ai.attune.plugins.memory.mixedprecision.MixedPrecisionConfig;
import ai.attune.plugins.method.full.FullFineTuning;
import ai.attune.plugins.model.llama.LlamaFamily;
import ai.attune.plugins.optim.adamw.AdamWOptimizer;
import ai.attune.api.data.Example;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Gradient checkpointing on the pretrained stories260K changes memory, not results: LoRA with
 * dropout on (each block's input needs no gradient, its adapters do) ends with the same adapter
 * bits, full fine-tuning with the same weights, and bf16 composed with it in either order with
 * the same bits as bf16 alone; a micro-batch's tensor peak is lower.
 */
class CheckpointingTest {
    @TempDir
    Path dir;

    static MemoryStrategy.Session checkpointing(Module m) {
        return new GradientCheckpointing().apply(m, CheckpointingConfig.DEFAULTS);
    }

    static MemoryStrategy.Session bf16(Module m) {
        return new MixedPrecision().apply(m, new MixedPrecisionConfig("bf16", 65536, 2, 0.5, 2000));
    }

    Map<String, float[]> lora(String name, Function<Module, MemoryStrategy.Session> memory) throws Exception {
        List<Example> data = StoriesLoraRuns.examples(StoriesLoraRuns.mobyDick(dir, "train.jsonl", 0, 40));
        Path run = dir.resolve(name);
        try (Scope job = Scope.open("job")) {
            TrainingRun.Setup s = StoriesLoraRuns.setup(new JvmBackend(), job, ResumeTest.LORA, 3e-3, 3, 0, 0, 11, memory);
            RunDirectory rd = new RunDirectory(run);
            rd.create("test: true\n");
            new TrainingRun(s, data, List.of(), List.of(), rd, e -> { }).run(false);
        }
        return ResumeTest.adapter(run);
    }

    static void assertSameBits(Map<String, float[]> want, Map<String, float[]> got) {
        assertEquals(want.keySet(), got.keySet());
        want.forEach((k, v) -> assertArrayEquals(v, got.get(k), 0f, k));
    }

    @Test
    void loraWithDropoutGivesTheSameAdapterBits() throws Exception {
        assertSameBits(lora("plain", null), lora("checkpointed", CheckpointingTest::checkpointing));
    }

    @Test
    void bf16ComposesWithCheckpointingInEitherOrder() throws Exception {
        Map<String, float[]> bf16 = lora("bf16", CheckpointingTest::bf16);
        assertSameBits(bf16, lora("bf16-then-ckpt", m -> MemoryStrategy.Session.compose(List.of(bf16(m), checkpointing(m)))));
        assertSameBits(bf16, lora("ckpt-then-bf16", m -> MemoryStrategy.Session.compose(List.of(checkpointing(m), bf16(m)))));
    }

    /** Full fine-tuning, 3 steps of micro-batch 2 and accumulation 2, clip 1.0: every weight of the model. */
    Map<String, float[]> full(boolean ckpt) throws Exception {
        List<Example> data = StoriesLoraRuns.examples(StoriesLoraRuns.mobyDick(dir, "full.jsonl", 0, 12));
        JvmBackend be = new JvmBackend();
        Path run = dir.resolve(ckpt ? "full-ckpt" : "full");
        try (Scope job = Scope.open("job")) {
            CausalLM lm;
            try (SafetensorsReader w = SafetensorsReader.openModelDir(StoriesLoraRuns.STORIES)) {
                lm = (CausalLM) new LlamaFamily().load(ModelConfig.read(StoriesLoraRuns.STORIES), w, be, DType.F32, job);
            }
            RecipeLoader loader = new RecipeLoader();
            FullFineTuning full = new FullFineTuning();
            AdamWOptimizer adamw = new AdamWOptimizer();
            Object optCfg = loader.bindConfig(new ObjectMapper().readTree("{\"weight_decay\": 0.01}"), adamw.defaultConfig(), adamw.configType(),
                    "train.optimizer", "test");
            MethodContext ctx = new MethodContext(be, DType.F32, job, 2, new DropoutSeeds(2), StoriesLoraRuns.STORIES, null);
            @SuppressWarnings({"unchecked", "rawtypes"})
            TrainingRun.Setup s = new TrainingRun.Setup(lm, (Method) full, full.defaultConfig(), (Optimizer) adamw, optCfg,
                    LrSchedule.of("linear", 1e-3, 0, 3), ctx, 2, 2, 3, true, 1.0, 0, 0,
                    ckpt ? checkpointing((Module) lm) : new MemoryStrategy.Session() { });
            RunDirectory rd = new RunDirectory(run);
            rd.create("test: true\n");
            new TrainingRun(s, data, List.of(), List.of(), rd, e -> { }).run(false);
            Map<String, float[]> out = new java.util.TreeMap<>();
            ((Module) lm).namedParameters().forEach((n, p) -> out.put(n, Tensors.toFloats(p.value())));
            return out;
        }
    }

    @Test
    void fullFineTuningGivesTheSameWeights() throws Exception {
        Map<String, float[]> plain = full(false);
        Map<String, float[]> ckpt = full(true);
        assertEquals(plain.keySet(), ckpt.keySet());
        plain.forEach((k, v) -> assertArrayEquals(v, ckpt.get(k), 1e-6f, k));
    }

    long peak(List<Example> rows, boolean ckpt) throws Exception {
        JvmBackend be = new JvmBackend();
        try (Scope job = Scope.open("job")) {
            TrainingRun.Setup s = StoriesLoraRuns.setup(be, job, ResumeTest.LORA, 1e-3, 1, 0, 0, 5, ckpt ? CheckpointingTest::checkpointing : null);
            List<Parameter> trainable = s.method().apply(s.model().module(), s.methodConfig(), s.context());
            s.model().module().setTraining(true);
            s.model().module().setDropoutSeeds(s.context().dropout());
            s.context().dropout().startMicroBatch(0, 0);
            try (Scope micro = Scope.open("micro-batch")) {
                BlockPool.resetPeak();
                Tensor loss = Perplexity.nllSum(s.model(), MicroBatch.of(rows, 0), be);
                Autograd.backward(loss);
                assertTrue(trainable.stream().allMatch(p -> p.value().grad() != null), "every adapter got a gradient");
                return BlockPool.peakBytes();
            }
        }
    }

    @Test
    void aMicroBatchPeaksLower() throws Exception {
        List<Example> rows = new ArrayList<>(StoriesLoraRuns.examples(StoriesLoraRuns.mobyDick(dir, "peak.jsonl", 0, 16)));
        long plain = peak(rows, false);
        long ckpt = peak(rows, true);
        System.out.printf("stories260K LoRA micro-batch of 16: tensor peak %d bytes, %d with checkpointing%n", plain, ckpt);
        assertTrue(ckpt < plain, ckpt + " >= " + plain);
    }
}
