package ai.attune.plugins.lora;

import ai.attune.api.nn.Module;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.kernels.jvm.JvmBackend;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** LoraConfig binding (PEFT keys, recipe aliases, defaults, refusals) and target_modules matching. */
class LoraConfigTest {
    private final ObjectMapper json = new ObjectMapper();
    private final JvmBackend be = new JvmBackend();

    LoraConfig bind(String s) throws Exception {
        return json.readValue(s, LoraConfig.class);
    }

    @Test
    void peftKeysAndRecipeAliasesBindWithPeftDefaults() throws Exception {
        LoraConfig empty = bind("{}");
        assertEquals(LoraConfig.DEFAULTS, empty);
        assertEquals(8, empty.r());
        assertEquals(8.0, empty.loraAlpha());
        assertEquals(0.0, empty.loraDropout());
        assertNull(empty.targetModules());
        assertEquals(1.0, empty.scaling());

        LoraConfig peft = bind("""
                {"r": 16, "lora_alpha": 32, "lora_dropout": 0.05, "target_modules": ["q_proj", "v_proj"],
                 "use_rslora": true, "fan_in_fan_out": false, "bias": "none", "modules_to_save": null}""");
        assertEquals(new LoraConfig(16, 32, 0.05, TargetModules.of("q_proj", "v_proj"), true, false, "none", null, List.of()), peft);
        assertEquals(32 / 4.0, peft.scaling());

        LoraConfig recipe = bind("{\"r\": 4, \"alpha\": 8, \"dropout\": 0.1, \"target_modules\": \"all-linear\", \"init_from\": \"runs/a/adapter\"}");
        assertEquals(4, recipe.r());
        assertEquals(8.0, recipe.loraAlpha());
        assertEquals(0.1, recipe.loraDropout());
        assertTrue(recipe.targetModules().allLinear());
        assertEquals("runs/a/adapter", recipe.initFrom());
        assertFalse(bind("{\"target_modules\": \".*q_proj\"}").targetModules().allLinear());
        assertEquals(".*q_proj", bind("{\"target_modules\": \".*q_proj\"}").targetModules().regex());
    }

    /** The runtime's binding: the defaults as a tree, the recipe's keys laid over them, strict mapping. */
    @Test
    void recipeKeysOverlaidOnTheDefaultsBind() throws Exception {
        ObjectMapper strict = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
                .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES).disable(DeserializationFeature.ACCEPT_FLOAT_AS_INT);
        ObjectNode tree = strict.valueToTree(LoraConfig.DEFAULTS);
        assertEquals(List.of("r", "lora_alpha", "lora_dropout", "target_modules", "use_rslora", "fan_in_fan_out", "bias",
                "init_from", "modules_to_save"), iterable(tree.fieldNames()));
        tree.setAll((ObjectNode) strict.readTree("{\"r\": 16, \"alpha\": 32, \"dropout\": 0.1, \"target_modules\": [\"q_proj\"]}"));
        LoraConfig c = strict.treeToValue(tree, LoraConfig.class);
        assertEquals(new LoraConfig(16, 32, 0.1, TargetModules.of("q_proj"), false, null, "none", null, List.of()), c);
        assertEquals(LoraConfig.DEFAULTS, strict.treeToValue(strict.valueToTree(LoraConfig.DEFAULTS), LoraConfig.class));
        assertEquals(c, strict.treeToValue(strict.valueToTree(c), LoraConfig.class));
    }

    private static List<String> iterable(java.util.Iterator<String> it) {
        List<String> out = new java.util.ArrayList<>();
        it.forEachRemaining(out::add);
        return out;
    }

    @Test
    void badValuesAreRefusedWithOneLineNamingTheKey() {
        assertEquals("r must be a positive integer (the LoRA rank), got 0", refusal("{\"r\": 0}"));
        assertEquals("r must be a positive integer (the LoRA rank), got -2", refusal("{\"r\": -2}"));
        assertEquals("bias 'all' is not supported: only 'none' (LoRA trains no bias); "
                + "PEFT's 'all' and 'lora_only' would also train the base biases", refusal("{\"bias\": \"all\"}"));
        assertEquals("lora_dropout must be in [0, 1), got 1.0", refusal("{\"dropout\": 1}"));
        assertEquals("modules_to_save [lm_head] is not supported yet: remove it, or fine-tune those modules with the full method",
                refusal("{\"modules_to_save\": [\"lm_head\"]}"));
        assertEquals("target_modules is an empty list: name the modules to adapt, e.g. [q_proj, v_proj]", refusal("{\"target_modules\": []}"));
        assertTrue(refusal("{\"target_modules\": \"(q_proj\"}").startsWith("target_modules '(q_proj' is not a valid regular expression: "));
        for (String bad : List.of("{\"r\": 0}", "{\"bias\": \"lora_only\"}")) {
            assertFalse(refusal(bad).contains("\n"), bad);
        }
    }

    /** The IllegalArgumentException Jackson wraps, as the runtime unwraps it. */
    private String refusal(String s) {
        JsonMappingException e = assertThrows(JsonMappingException.class, () -> bind(s));
        Throwable cause = e;
        while (cause.getCause() != null && !(cause instanceof IllegalArgumentException)) {
            cause = cause.getCause();
        }
        assertInstanceOf(IllegalArgumentException.class, cause, s);
        return cause.getMessage();
    }

    @Test
    void targetsMatchAsPeftDoes() throws Exception {
        try (Scope job = Scope.open("job")) {
            Module m = Fixtures.stories(be, DType.F32, job);
            // A list entry matches a path equal to it or ending with "." + it.
            assertEquals(5, TargetModules.of("q_proj").select(m).size());
            assertEquals(10, TargetModules.of("self_attn.q_proj", "down_proj").select(m).size());
            assertEquals(List.of("model.layers.2.mlp.up_proj"), List.copyOf(TargetModules.of("model.layers.2.mlp.up_proj").select(m).keySet()));
            // "proj" is a suffix of every name, but not after a dot: it matches nothing.
            assertEquals("target_modules [q_proj, proj]: [proj] matched no module of the model "
                            + "(linear layers have paths like 'model.layers.0.self_attn.q_proj')",
                    assertThrows(IllegalArgumentException.class, () -> TargetModules.of("q_proj", "proj").select(m)).getMessage());

            // A string is a regex the whole path must match (re.fullmatch), not a search.
            assertEquals(List.of("model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.v_proj",
                            "model.layers.1.self_attn.q_proj", "model.layers.1.self_attn.v_proj"),
                    List.copyOf(TargetModules.regex("model\\.layers\\.[01]\\.self_attn\\.(q|v)_proj").select(m).keySet()));
            assertEquals("target_modules 'q_proj' matched no module of the model (linear layers have paths like 'model.layers.0.self_attn.q_proj')",
                    assertThrows(IllegalArgumentException.class, () -> TargetModules.regex("q_proj").select(m)).getMessage());

            // all-linear: every linear layer but the output head (tied to embed_tokens here).
            var all = TargetModules.regex("all-linear").select(m);
            assertEquals(35, all.size());
            assertFalse(all.containsKey("lm_head"));
            assertTrue(all.containsKey("model.layers.4.mlp.down_proj"));

            // Named explicitly, the head is a target like any other linear layer, as in PEFT.
            assertEquals(List.of("lm_head"), List.copyOf(TargetModules.of("lm_head").select(m).keySet()));

            // Only linear layers can be adapted.
            assertEquals("target_modules [mlp] selects 'model.layers.0.mlp', a SwiGluMlp: LoRA adapts linear layers only; "
                            + "name its projections instead",
                    assertThrows(IllegalArgumentException.class, () -> TargetModules.of("mlp").select(m)).getMessage());
        }
    }

    @Test
    void applyNamesTheTargetsThatMatchNothingAndRefusesASecondApply() throws Exception {
        try (Scope job = Scope.open("job")) {
            Module m = Fixtures.stories(be, DType.F32, job);
            LoraConfig c = new LoraConfig(4, 8, 0, TargetModules.of("query", "value"), false, null, "none", null, null);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> new LoraMethod().apply(m, c, Fixtures.context(be, DType.F32, job, 1, null)));
            assertEquals("target_modules [query, value] matched no module of the model "
                    + "(linear layers have paths like 'model.layers.0.self_attn.q_proj')", e.getMessage());
            assertTrue(m.namedParameters().values().stream().allMatch(p -> p.trainable()), "a refused apply leaves the model as it was");

            LoraConfig unset = LoraConfig.DEFAULTS;
            IllegalArgumentException noDefault = assertThrows(IllegalArgumentException.class,
                    () -> new LoraMethod().apply(m, unset, Fixtures.context(be, DType.F32, job, 1, null)));
            assertTrue(noDefault.getMessage().startsWith("target_modules is not set and there is no base model config.json"), noDefault.getMessage());

            // With the base directory, the default is PEFT's for llama: q_proj and v_proj.
            new LoraMethod().apply(m, unset, Fixtures.context(be, DType.F32, job, 1, Fixtures.STORIES));
            assertEquals(10, LoraLayers.find(m).size());
            assertTrue(LoraLayers.find(m).keySet().stream().allMatch(p -> p.endsWith("q_proj") || p.endsWith("v_proj")));
            IllegalStateException twice = assertThrows(IllegalStateException.class,
                    () -> new LoraMethod().apply(m, unset, Fixtures.context(be, DType.F32, job, 1, Fixtures.STORIES)));
            assertTrue(twice.getMessage().startsWith("the model already carries LoRA adapters"), twice.getMessage());
        }
    }
}
