package ai.attune.runtime.plan;

import ai.attune.api.model.ModelConfig;
import ai.attune.runtime.plan.Advisor.Advice;
import ai.attune.runtime.plan.TrainingSetup.Method;
import ai.attune.runtime.plan.TrainingSetup.Optimizer;
import ai.attune.runtime.plan.TrainingSetup.Precision;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The advice's order of cost, its stopping rule, and the micro-batch it picks. */
class AdvisorTest {
    static final MemoryPlanner PLANNER = new MemoryPlanner(new RuntimeOverhead(0, 0));
    static final Set<String> ALL = Set.of("memory/gradient_checkpointing", "memory/mixed_precision", "optimizer/adafactor", "method/lora", "method/qlora");

    static ModelShape llama100m() throws Exception {
        return ModelShape.of(ModelConfig.of(Path.of("llama-100m"), new ObjectMapper().readTree("""
                {"model_type": "llama", "hidden_size": 768, "intermediate_size": 2048, "num_hidden_layers": 12,
                 "num_attention_heads": 12, "num_key_value_heads": 12, "vocab_size": 32000, "tie_word_embeddings": true}""")));
    }

    static TrainingSetup fullFp32(int microBatch, int accumulation) {
        return new TrainingSetup(Method.full, null, 16, 0, microBatch, accumulation, 512, Precision.fp32, Optimizer.adamw(), false);
    }

    @Test
    void aStepThatFitsGetsNoAdvice() throws Exception {
        TrainingSetup t = fullFp32(8, 1);
        long total = PLANNER.plan(llama100m(), t).total();
        assertEquals(List.of(), new Advisor(PLANNER, ALL).advise(llama100m(), t, total));
    }

    @Test
    void cheapestFirstEachAddingToTheLastUntilOneFits() throws Exception {
        ModelShape m = llama100m();
        TrainingSetup t = fullFp32(8, 1);
        // weights, gradients and AdamW state alone are 4 x 418 MiB: 1 GiB needs a frozen base
        List<Advice> advice = new Advisor(PLANNER, ALL).advise(m, t, 1L << 30);
        List<String> order = advice.stream().map(a -> a.change().replaceAll(";.*", "")).toList();
        assertEquals(List.of("micro_batch_size 8 -> 1, gradient_accumulation_steps 1 -> 8 (the same updates)", "gradient checkpointing",
                "gradient checkpointing + optimizer adafactor",
                "gradient checkpointing + optimizer adafactor + lora r 8 on all-linear instead of full fine-tuning"), order);
        for (int i = 1; i < advice.size(); i++) {
            assertTrue(advice.get(i).plan().total() < advice.get(i - 1).plan().total(), "each change saves memory: " + advice.get(i).change());
        }
        for (Advice a : advice.subList(0, advice.size() - 1)) {
            assertFalse(a.fits(), a.change());
        }
        assertTrue(advice.get(advice.size() - 1).fits());
        assertEquals(8, advice.get(advice.size() - 1).setup().effectiveBatch(), "every change keeps the recipe's rows per update");
        // bf16 is left out: at one 512-token row its bf16 weight casts cost about what its halved activations save
        TrainingSetup checkpointed = t.withMicroBatch(1, 8).withCheckpointing();
        long saved = PLANNER.plan(m, checkpointed).total() - PLANNER.plan(m, checkpointed.withPrecision(Precision.bf16)).total();
        assertTrue(saved < PLANNER.plan(m, checkpointed).total() / 100, "bf16 saves " + saved);
    }

    @Test
    void whatTheRecipeAlreadyDoesIsNotAdvised() throws Exception {
        TrainingSetup t = fullFp32(1, 8).withPrecision(Precision.bf16).withCheckpointing();
        List<Advice> advice = new Advisor(PLANNER, ALL).advise(llama100m(), t, 1L << 30);
        assertTrue(advice.get(0).change().startsWith("optimizer adafactor"), advice.get(0).change());
        assertTrue(advice.stream().noneMatch(a -> a.change().contains("bf16") || a.change().contains("checkpointing") || a.change().contains("micro")));
    }

    @Test
    void aTechniqueWithoutItsPluginIsNamed() throws Exception {
        List<Advice> advice = new Advisor(PLANNER, Set.of("method/lora", "memory/mixed_precision")).advise(llama100m(), fullFp32(8, 1), 2L << 30);
        Advice checkpointing = advice.stream().filter(a -> a.change().startsWith("gradient checkpointing")).findFirst().orElseThrow();
        assertEquals(List.of("memory/gradient_checkpointing"), checkpointing.missingPlugins());
    }

    @Test
    void theMicroBatchIsTheLargestDivisorOfTheBatchThatFits() throws Exception {
        ModelShape m = llama100m();
        TrainingSetup recipe = fullFp32(6, 2); // 12 rows per update: micro-batches 6, 4, 3, 2 or 1, never 5
        long fits4 = PLANNER.plan(m, recipe.withMicroBatch(4, 3)).total();
        TrainingSetup picked = new Advisor(PLANNER, ALL).fitMicroBatch(m, recipe, recipe, fits4 + (1L << 20));
        assertEquals(4, picked.microBatch());
        assertEquals(3, picked.accumulation());
        assertEquals(1, new Advisor(PLANNER, ALL).fitMicroBatch(m, recipe, recipe, 1).microBatch(), "nothing fits: the smallest");
    }
}
