package ai.attune.runtime.plan;

import ai.attune.api.model.CausalLM;
import ai.attune.api.model.ModelConfig;
import ai.attune.api.nn.Parameter;
import ai.attune.api.spi.Kind;
import ai.attune.api.spi.OptimizerState;
import ai.attune.api.tensor.BlockPool;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.kernels.jvm.JvmBackend;
import ai.attune.plugins.lora.LoraMethod;
import ai.attune.plugins.method.full.FullFineTuning;
import ai.attune.plugins.model.llama.LlamaFamily;
import ai.attune.plugins.optim.adamw.AdamWOptimizer;
import ai.attune.plugins.optim.adamw8bit.AdamW8bitConfig;
import ai.attune.plugins.optim.adamw8bit.AdamW8bitOptimizer;
import ai.attune.runtime.host.PluginCatalog;
import ai.attune.runtime.host.StaticCatalog;
import ai.attune.runtime.plan.TrainingSetup.Optimizer;
import ai.attune.runtime.plan.TrainingSetup.Precision;
import ai.attune.runtime.train.RecipeException;
import ai.attune.runtime.train.RecipeLoader;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The planner's optimizer state for bitsandbytes' 8-bit AdamW and the names the AdamW plugins
 * also go by: worked by hand on MemoryPlannerTest's small Llama, and checked against the bytes the
 * real plugin takes from the tensor pool on that model.
 */
class OptimizerStatePlanTest {
    private static Optimizer adamw8bit(String name, long min8bitSize) {
        return new Optimizer(name, false, 0, false, false, null, min8bitSize);
    }

    private static long state(Optimizer o) throws Exception {
        return MemoryPlannerTest.plan(MemoryPlannerTest.full(Precision.fp32).withOptimizer(o)).bytes("optimizer state");
    }

    @Test
    void eightBitStateByHand() throws Exception {
        // Per tensor a 512-byte step count. From 4,096 elements: u8 state1 and state2 (one byte each per element) and
        // f32 absmax1 and absmax2 (4 bytes per block of 256), each at least one 512-byte granule; below, f32 state1 and state2.
        //   embed and lm_head [256, 64], 16,384 elements: 512 + 2 x 16,384 + 2 x 512 (64 blocks, 256 B)   = 34,304 each
        //   q and o [64, 64], 4,096:                      512 + 2 x 4,096 + 2 x 512 (16 blocks, 64 B)      =  9,728 each
        //   gate, up and down, 8,192:                     512 + 2 x 8,192 + 2 x 512 (32 blocks, 128 B)     = 17,920 each
        //   k and v [32, 64], 2,048 (f32):                512 + 2 x 8,192                                  = 16,896 each
        //   the norms, 64 (f32):                          512 + 2 x 512                                    =  1,536 each
        long layer = 2 * 9_728 + 3 * 17_920 + 2 * 16_896 + 2 * 1_536;
        long expected = 2 * 34_304 + 2 * layer + 1_536;
        assertEquals(290_304, expected);
        assertEquals(expected, state(Optimizer.adamw8bit()));
        assertEquals(expected, state(adamw8bit("paged_adamw_8bit", 4096)));
        // AdamW's 2 x 428,544 + 21 x 512 for the same model: a third of it
        assertEquals(2 * 428_544 + 21 * 512, state(new Optimizer("paged_adamw_32bit", false, 0, false, false, null, 0)));
    }

    /**
     * One step of the plugin on the model itself, every tensor's gradient already there: the bytes
     * it takes from the emptied pool are its state, and the plan says as much. min_8bit_size
     * 4,096 mixes f32 and u8 state; 0 codes every tensor (a norm's 64 codes take a granule);
     * 1,000,000 keeps every tensor in f32.
     */
    @ParameterizedTest(name = "min_8bit_size {0}")
    @ValueSource(longs = {4096, 0, 1_000_000})
    void planEqualsWhatThePluginAllocates(long min8bitSize) throws Exception {
        JvmBackend be = new JvmBackend();
        try (Scope job = Scope.open("job")) {
            CausalLM lm = (CausalLM) new LlamaFamily().create(ModelConfig.of(Path.of("golden"), new ObjectMapper().readTree(MemoryPlannerTest.CONFIG)),
                    be, DType.F32, job);
            List<Parameter> params = new ArrayList<>(lm.module().namedParameters().values());
            assertEquals(MemoryPlannerTest.shape().parameterCount(), params.stream().mapToLong(p -> p.value().numel()).sum());
            for (Parameter p : params) {
                p.value().setGrad(be.zeros(DType.F32, p.value().shape(), job));
            }
            OptimizerState state = new OptimizerState(job);
            AdamW8bitOptimizer opt = new AdamW8bitOptimizer();
            BlockPool.trim();
            long before = BlockPool.liveBytes();
            opt.step(params, state, new AdamW8bitConfig(List.of(0.9, 0.999), 1e-8, 0.01, false, min8bitSize), 1e-3);
            long allocated = BlockPool.liveBytes() - before;
            assertEquals(state(adamw8bit("adamw_8bit", min8bitSize)), allocated);
        }
    }

    @Test
    void theRecipesOptimizerBlockIsBoundByThePluginsKeys() throws Exception {
        PluginCatalog catalog = StaticCatalog.of(Map.of(
                Kind.METHOD, Map.of("lora", new LoraMethod(), "full", new FullFineTuning()),
                Kind.OPTIMIZER, Map.of("adamw", new AdamWOptimizer(), "paged_adamw_8bit", new AdamW8bitOptimizer())));
        Path recipe = RecipePlanTest.RECIPE;
        List<String> overrides = new ArrayList<>(List.of("model=../../shared/models/stories260K", "data.path=../../shared/data/text/mobydick.txt",
                "data.general_eval_path=../../shared/data/text/harvard_sentences.txt", "method=full"));
        List<String> eightBit = new ArrayList<>(overrides);
        eightBit.add("train.optimizer={name: paged_adamw_8bit, lr: 1.0e-3, min_8bit_size: 0}");
        TrainingSetup t = RecipePlan.read(recipe, new RecipeLoader().read(recipe, eightBit), catalog, null, null).setup();
        assertEquals("paged_adamw_8bit", t.optimizer().name());
        assertEquals(0, t.optimizer().min8bitSize());
        List<String> defaults = new ArrayList<>(overrides);
        defaults.add("train.optimizer={name: paged_adamw_8bit, lr: 1.0e-3}");
        assertEquals(4096, RecipePlan.read(recipe, new RecipeLoader().read(recipe, defaults), catalog, null, null).setup().optimizer().min8bitSize());
        List<String> misspelled = new ArrayList<>(overrides);
        misspelled.add("train.optimizer={name: paged_adamw_8bit, lr: 1.0e-3, min_8bit_sise: 0}");
        RecipeException e = assertThrows(RecipeException.class, () -> RecipePlan.read(recipe, new RecipeLoader().read(recipe, misspelled), catalog, null, null));
        String line = "lora-moby-dick.yaml: unknown key 'train.optimizer.min_8bit_sise' (did you mean 'min_8bit_size'?); known keys: [";
        assertTrue(e.getMessage().startsWith(line) && !e.getMessage().contains("\n"), e.getMessage());
    }
}
