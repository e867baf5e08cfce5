package ai.attune.runtime.plan;

import ai.attune.api.spi.Kind;
import ai.attune.plugins.lora.LoraMethod;
import ai.attune.plugins.memory.checkpointing.GradientCheckpointing;
import ai.attune.plugins.optim.adafactor.AdafactorOptimizer;
import ai.attune.plugins.memory.mixedprecision.MixedPrecision;
import ai.attune.plugins.method.full.FullFineTuning;
import ai.attune.plugins.optim.adamw.AdamWOptimizer;
import ai.attune.runtime.host.PluginCatalog;
import ai.attune.runtime.host.StaticCatalog;
import ai.attune.runtime.train.RecipeException;
import ai.attune.runtime.train.RecipeLoader;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The shipped recipe read for planning, bound against real plugin classes as attune train binds it. */
class RecipePlanTest {
    static final Path RECIPE = Path.of("../examples/lora-moby-dick.yaml");
    static final PluginCatalog CATALOG = StaticCatalog.of(Map.of(
            Kind.METHOD, Map.of("lora", new LoraMethod(), "full", new FullFineTuning()),
            Kind.OPTIMIZER, Map.of("adamw", new AdamWOptimizer(), "adafactor", new AdafactorOptimizer()),
            Kind.MEMORY, Map.of("mixed_precision", new MixedPrecision(), "gradient_checkpointing", new GradientCheckpointing())));

    /** The recipe's paths are relative to the repository root; tests run in runtime/. */
    static RecipePlan.Input read(String... sets) throws Exception {
        List<String> overrides = new ArrayList<>(List.of("model=../../shared/models/stories260K", "data.path=../../shared/data/text/mobydick.txt",
                "data.general_eval_path=../../shared/data/text/harvard_sentences.txt"));
        overrides.addAll(List.of(sets));
        return RecipePlan.read(RECIPE, new RecipeLoader().read(RECIPE, overrides), CATALOG, null, null);
    }

    @Test
    void theShippedLoraRecipe() throws Exception {
        RecipePlan.Input in = read();
        TrainingSetup t = in.setup();
        assertEquals(TrainingSetup.Method.lora, t.method());
        assertEquals(8, t.lora().r());
        assertEquals("all-linear", t.lora().regex());
        assertEquals(0.05, t.lora().dropout());
        assertEquals(8, t.microBatch());
        assertEquals(2, t.accumulation());
        assertEquals(64, t.seqLen());
        assertEquals(TrainingSetup.Precision.fp32, t.precision());
        assertEquals("adamw", t.optimizer().name());
        assertEquals(64, in.shape().hidden());
        assertEquals("jvm", in.backend());
        assertTrue(in.installed().containsAll(List.of("method/lora", "optimizer/adamw", "memory/mixed_precision")), in.installed().toString());
    }

    @Test
    void loraDefaultsAreThePluginsAndPefts() throws Exception {
        TrainingSetup t = read("lora={}").setup();
        assertEquals(8, t.lora().r());
        assertEquals(List.of("q_proj", "v_proj"), t.lora().names());
        assertEquals(0.0, t.lora().dropout());
        TrainingSetup full = read("method=full", "train.precision=bf16").setup();
        assertNull(full.lora());
        assertEquals(TrainingSetup.Precision.bf16, full.precision());
    }

    @Test
    void checkpointingAndAdafactorAsTheRecipeNamesThem() throws Exception {
        TrainingSetup t = read("train.gradient_checkpointing=true", "train.optimizer={name: adafactor, lr: null, beta1: 0.9}").setup();
        assertTrue(t.checkpointing());
        assertEquals("adafactor", t.optimizer().name());
        assertEquals(0.9, t.optimizer().beta1());
        assertNull(read("train.optimizer={name: adafactor, lr: null}").setup().optimizer().beta1(), "transformers' default: no first moment");
    }

    @Test
    void aWrongKeyInThePluginsBlockIsOneLineNamingIt() {
        RecipeException e = assertThrows(RecipeException.class, () -> read("lora.rank=8"));
        assertTrue(e.getMessage().startsWith("lora-moby-dick.yaml: unknown key 'lora.rank'"), e.getMessage());
        assertEquals(1, e.getMessage().lines().count());
        e = assertThrows(RecipeException.class, () -> read("train.optimizer.betaz=[0.9, 0.99]"));
        assertTrue(e.getMessage().startsWith("lora-moby-dick.yaml: unknown key 'train.optimizer.betaz'"), e.getMessage());
    }

    @Test
    void anUnknownTopLevelKeySuggestsOne() {
        RecipeException e = assertThrows(RecipeException.class, () -> read("trian.micro_batch_size=2"));
        assertEquals("lora-moby-dick.yaml: unknown key 'trian' (did you mean 'train'?)", e.getMessage());
    }

    @Test
    void anOptimizerThatIsNotInstalledIsRefusedAsTrainRefusesIt() {
        RecipeException e = assertThrows(RecipeException.class, () -> read("train.optimizer.name=lion"));
        assertEquals("lora-moby-dick.yaml: train.optimizer.name 'lion' is not installed; installed: [adafactor, adamw]", e.getMessage());
    }
}
