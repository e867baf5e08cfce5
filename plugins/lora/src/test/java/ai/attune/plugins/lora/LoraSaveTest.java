package ai.attune.plugins.lora;

import ai.attune.api.io.SafetensorsFile;
import ai.attune.api.model.ModelLoadException;
import ai.attune.api.nn.Module;
import ai.attune.api.nn.Parameter;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.kernels.jvm.JvmBackend;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;

import static ai.attune.plugins.lora.Fixtures.IDS;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** save() writes a PEFT adapter directory that api's LoraAdapter merges and init_from reads back. */
class LoraSaveTest {
    private final JvmBackend be = new JvmBackend();

    @TempDir
    Path tmp;

    /** A stories260K with LoRA applied and A, B set to random values, as after training. */
    Module trained(Scope job, LoraConfig c) throws Exception {
        Module m = Fixtures.stories(be, DType.F32, job);
        List<Parameter> params = new LoraMethod().apply(m, c, Fixtures.context(be, DType.F32, job, 1, Fixtures.STORIES));
        Random rnd = new Random(4);
        params.forEach(p -> Fixtures.randomize(p, rnd, 0, 0.1));
        return m;
    }

    @Test
    void savedAdapterMergedByLoraAdapterGivesTheTrainedLogitsAndInitFromRestoresIt() throws Exception {
        LoraConfig c = new LoraConfig(4, 16, 0.05, TargetModules.of("q_proj", "v_proj"), false, null, "none", null, null);
        Path out = tmp.resolve("adapter");
        try (Scope job = Scope.open("job")) {
            Module m = trained(job, c);
            double[] want = Fixtures.logits(m, IDS);
            new LoraMethod().save(m, c, Fixtures.context(be, DType.F32, job, 1, Fixtures.STORIES), out);

            JsonNode cfg = new ObjectMapper().readTree(out.resolve("adapter_config.json").toFile());
            assertEquals("LORA", cfg.get("peft_type").asText());
            assertEquals("CAUSAL_LM", cfg.get("task_type").asText());
            assertEquals(4, cfg.get("r").intValue());
            assertTrue(cfg.get("lora_alpha").isIntegralNumber());
            assertEquals(16, cfg.get("lora_alpha").intValue());
            assertEquals(0.05, cfg.get("lora_dropout").doubleValue());
            assertEquals("[\"q_proj\",\"v_proj\"]", cfg.get("target_modules").toString());
            assertFalse(cfg.get("use_rslora").booleanValue());
            assertFalse(cfg.get("fan_in_fan_out").booleanValue());
            assertEquals("none", cfg.get("bias").asText());
            assertTrue(cfg.get("inference_mode").booleanValue());
            assertEquals(Fixtures.STORIES.toString(), cfg.get("base_model_name_or_path").asText());
            try (SafetensorsFile st = SafetensorsFile.open(out.resolve("adapter_model.safetensors"))) {
                assertEquals(20, st.names().size());
                assertArrayEquals(new long[] {4, 64}, st.info("base_model.model.model.layers.3.self_attn.q_proj.lora_A.weight").shape());
                assertArrayEquals(new long[] {32, 4}, st.info("base_model.model.model.layers.3.self_attn.v_proj.lora_B.weight").shape());
                assertEquals(DType.F32, st.info("base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight").dtype());
            }
            try (var files = Files.list(tmp)) {
                assertEquals(List.of(out), files.toList(), "no temporary directory is left beside the output");
            }

            Module fresh = Fixtures.stories(be, DType.F32, job);
            LoraAdapter.read(out).mergeInto(fresh);
            double d = Fixtures.maxAbsDiff(want, Fixtures.logits(fresh, IDS));
            double top = 0;
            for (double v : want) {
                top = Math.max(top, Math.abs(v));
            }
            // Merging rounds W + s*B@A to f32 once per weight, so the logits differ by f32 rounding
            // through 5 layers: bounded relative to the largest logit, as the all-linear case below.
            assertTrue(d <= 2e-6 * top, "merged from the saved adapter: " + d + " (largest logit " + top + ")");

            Module resumed = Fixtures.stories(be, DType.F32, job);
            LoraConfig from = new LoraConfig(4, 16, 0.05, TargetModules.of("q_proj", "v_proj"), false, null, "none", out.toString(), null);
            new LoraMethod().apply(resumed, from, Fixtures.context(be, DType.F32, job, 99, Fixtures.STORIES));
            for (String name : m.namedParameters().keySet()) {
                if (name.contains(".lora_")) {
                    assertArrayEquals(Fixtures.values(m, name), Fixtures.values(resumed, name), name);
                }
            }
            assertArrayEquals(want, Fixtures.logits(resumed, IDS));

            assertThrows(FileAlreadyExistsException.class,
                    () -> new LoraMethod().save(m, c, Fixtures.context(be, DType.F32, job, 1, Fixtures.STORIES), out));
        }
    }

    @Test
    void rsloraAndAllLinearAreSavedAsPeftStoresThem() throws Exception {
        LoraConfig c = new LoraConfig(2, 4, 0, TargetModules.regex("all-linear"), true, null, "none", null, null);
        Path out = tmp.resolve("all");
        try (Scope job = Scope.open("job")) {
            Module m = trained(job, c);
            assertEquals(35, LoraLayers.find(m).size(), "7 projections in each of 5 layers; lm_head excluded");
            double[] want = Fixtures.logits(m, IDS);
            new LoraMethod().save(m, c, Fixtures.context(be, DType.F32, job, 1, Fixtures.STORIES), out);
            JsonNode cfg = new ObjectMapper().readTree(out.resolve("adapter_config.json").toFile());
            assertEquals("[\"down_proj\",\"gate_proj\",\"k_proj\",\"o_proj\",\"q_proj\",\"up_proj\",\"v_proj\"]", cfg.get("target_modules").toString());
            assertTrue(cfg.get("use_rslora").booleanValue());
            Module fresh = Fixtures.stories(be, DType.F32, job);
            LoraAdapter.read(out).mergeInto(fresh);
            double d = Fixtures.maxAbsDiff(want, Fixtures.logits(fresh, IDS));
            double scale = java.util.Arrays.stream(want).map(Math::abs).max().orElseThrow();
            System.out.printf("PEFT round trip (rsLoRA, all-linear): max |diff| logits = %.3g (max |logit| %.3g)%n", d, scale);
            // 35 merged layers in f32: x @ (W + dW) and x @ W + dW x round differently, by ~20 ulp of the largest logit.
            assertTrue(d <= 5e-6 * scale, "rsLoRA all-linear round trip: " + d);
        }
    }

    @Test
    void aRegexTargetIsSavedAsTheString() throws Exception {
        LoraConfig c = new LoraConfig(2, 4, 0, TargetModules.regex("model\\.layers\\.[0-2]\\.mlp\\.down_proj"), false, null, "none", null, null);
        try (Scope job = Scope.open("job")) {
            Module m = trained(job, c);
            new LoraMethod().save(m, c, Fixtures.context(be, DType.F32, job, 1, Fixtures.STORIES), tmp.resolve("re"));
            JsonNode cfg = new ObjectMapper().readTree(tmp.resolve("re/adapter_config.json").toFile());
            assertEquals("model\\.layers\\.[0-2]\\.mlp\\.down_proj", cfg.get("target_modules").asText());
            assertEquals(3, LoraLayers.find(m).size());
        }
    }

    @Test
    void initFromRefusesAnAdapterOfAnotherRankOrOtherModules() throws Exception {
        LoraConfig c = new LoraConfig(4, 8, 0, TargetModules.of("q_proj"), false, null, "none", null, null);
        Path out = tmp.resolve("q");
        try (Scope job = Scope.open("job")) {
            new LoraMethod().save(trained(job, c), c, Fixtures.context(be, DType.F32, job, 1, Fixtures.STORIES), out);

            LoraConfig rank2 = new LoraConfig(2, 8, 0, TargetModules.of("q_proj"), false, null, "none", out.toString(), null);
            ModelLoadException e = assertThrows(ModelLoadException.class, () -> new LoraMethod().apply(
                    Fixtures.stories(be, DType.F32, job), rank2, Fixtures.context(be, DType.F32, job, 1, null)));
            assertEquals("adapter_model.safetensors: weight 'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight' "
                    + "has shape [4, 64], expected [2, 64]", e.getMessage());

            LoraConfig more = new LoraConfig(4, 8, 0, TargetModules.of("q_proj", "k_proj"), false, null, "none", out.toString(), null);
            e = assertThrows(ModelLoadException.class, () -> new LoraMethod().apply(
                    Fixtures.stories(be, DType.F32, job), more, Fixtures.context(be, DType.F32, job, 1, null)));
            assertEquals("adapter_model.safetensors: has no tensor 'base_model.model.model.layers.0.self_attn.k_proj.lora_A.weight' "
                    + "for target module 'model.layers.0.self_attn.k_proj': the adapter was trained on other target_modules", e.getMessage());

            LoraConfig fewer = new LoraConfig(4, 8, 0, TargetModules.regex("model\\.layers\\.0\\.self_attn\\.q_proj"), false, null, "none", out.toString(), null);
            e = assertThrows(ModelLoadException.class, () -> new LoraMethod().apply(
                    Fixtures.stories(be, DType.F32, job), fewer, Fixtures.context(be, DType.F32, job, 1, null)));
            assertTrue(e.getMessage().startsWith("adapter_model.safetensors: tensor 'base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight' "
                    + "is not the A or B of a module target_modules selects"), e.getMessage());

            LoraConfig missing = new LoraConfig(4, 8, 0, TargetModules.of("q_proj"), false, null, "none", tmp.resolve("nope").toString(), null);
            e = assertThrows(ModelLoadException.class, () -> new LoraMethod().apply(
                    Fixtures.stories(be, DType.F32, job), missing, Fixtures.context(be, DType.F32, job, 1, null)));
            assertTrue(e.getMessage().contains("is not a PEFT adapter directory"), e.getMessage());
        }
    }
}
