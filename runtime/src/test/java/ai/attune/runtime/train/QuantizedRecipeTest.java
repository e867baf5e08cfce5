package ai.attune.runtime.train;

import ai.attune.api.spi.Kind;
import ai.attune.api.tensor.Scope;
import ai.attune.kernels.jvm.JvmBackend;
import ai.attune.plugins.lora.LoraMethod;
import ai.attune.plugins.qlora.QloraMethod;
import ai.attune.plugins.quant.bnb4.Bnb4Config;
import ai.attune.plugins.quant.bnb4.Fp4Quantizer;
import ai.attune.plugins.quant.bnb4.Nf4Quantizer;
import ai.attune.runtime.host.TestCatalog;
import ai.attune.runtime.model.ModelLoader;
import ai.attune.runtime.model.ModelQuantizer;
import ai.attune.runtime.model.QuantizationConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A recipe's {@code quantization:} block (BitsAndBytesConfig's keys) loads the base with its
 * Linear weights quantized as they come off the file: training on it is training on the model
 * {@code attune quantize} writes, and a bad key is refused before a run directory exists.
 */
class QuantizedRecipeTest {
    private static final String QUANTIZATION = "{load_in_4bit: true, bnb_4bit_quant_type: nf4, bnb_4bit_use_double_quant: true, "
            + "bnb_4bit_compute_dtype: float32, bnb_4bit_blocksize: 64}";

    @TempDir
    Path dir;

    TestCatalog plugins;
    final StringWriter log = new StringWriter();
    Path data;

    @BeforeEach
    void registry() throws Exception {
        plugins = StoriesLoraRuns.registry(dir.resolve("felix"))
                .register(Kind.QUANTIZER, "nf4", new Nf4Quantizer())
                .register(Kind.QUANTIZER, "fp4", new Fp4Quantizer())
                .register(Kind.METHOD, "qlora", new QloraMethod(new LoraMethod()));
        data = StoriesLoraRuns.mobyDick(dir, "train.jsonl", 0, 16);
    }

    @AfterEach
    void stop() throws Exception {
        plugins.close();
    }

    /** Trains 3 steps of LoRA on {@code model} into {@code out}, with the recipe's quantization block or none; returns the adapter. */
    Map<String, float[]> train(Path model, String quantization, Path out, String... overrides) throws Exception {
        return train("lora", model, quantization, out, overrides);
    }

    Map<String, float[]> train(String method, Path model, String quantization, Path out, String... overrides) throws Exception {
        Path recipe = dir.resolve("recipe.yaml");
        Files.writeString(recipe, """
                model: %s
                method: %s
                %s
                lora: {r: 4, lora_alpha: 8, target_modules: all-linear}
                data: {format: text, path: %s, max_seq_len: 64, truncate: true}
                train:
                  micro_batch_size: 4
                  max_steps: 3
                  optimizer: {name: adamw, lr: 1.0e-2}
                output: %s
                """.formatted(model.toAbsolutePath(), method, quantization == null ? "" : "quantization: " + quantization, data, out));
        TrainJob job = new TrainJob(plugins.catalog(), new PrintWriter(log, true));
        TrainJob.Prepared p = job.prepare(recipe, new RecipeLoader().read(recipe, List.of(overrides)), null);
        try (Scope scope = Scope.open("job")) {
            job.run(p, scope, e -> { }, StepControl.NONE);
        }
        return ResumeTest.adapter(out);
    }

    @Test
    void quantizingAtLoadTrainsAsOnTheQuantizedDirectory() throws Exception {
        Path quantized = dir.resolve("stories-nf4");
        new ModelQuantizer(new ModelLoader(plugins.catalog())).write(StoriesLoraRuns.STORIES, new Nf4Quantizer(), new Bnb4Config(64, true),
                new QuantizationConfig("nf4", true, "float32"), new JvmBackend(), quantized);

        Map<String, float[]> atLoad = train(StoriesLoraRuns.STORIES, QUANTIZATION, dir.resolve("at-load"));
        Map<String, float[]> preQuantized = train(quantized, null, dir.resolve("pre-quantized"));
        Map<String, float[]> dense = train(StoriesLoraRuns.STORIES, null, dir.resolve("dense"));

        assertEquals(atLoad.keySet(), preQuantized.keySet());
        atLoad.forEach((k, v) -> assertArrayEquals(preQuantized.get(k), v, 0f, k));
        float diff = 0;
        for (Map.Entry<String, float[]> e : atLoad.entrySet()) {
            for (int i = 0; i < e.getValue().length; i++) {
                diff = Math.max(diff, Math.abs(e.getValue()[i] - dense.get(e.getKey())[i]));
            }
        }
        assertTrue(diff > 1e-6, "the 4-bit base is not the dense one: " + diff);
    }

    /** method: qlora is LoRA's training over the 4-bit base, with the quantization recorded beside the PEFT files. */
    @Test
    void qloraMethodTrainsLoraAndRecordsTheQuantization() throws Exception {
        Map<String, float[]> lora = train("lora", StoriesLoraRuns.STORIES, QUANTIZATION, dir.resolve("lora"));
        Map<String, float[]> qlora = train("qlora", StoriesLoraRuns.STORIES, QUANTIZATION, dir.resolve("qlora"));
        assertEquals(lora.keySet(), qlora.keySet());
        lora.forEach((k, v) -> assertArrayEquals(v, qlora.get(k), 0f, k));
        assertEquals("{\"quant_method\":\"bitsandbytes\",\"load_in_4bit\":true,\"bnb_4bit_quant_type\":\"nf4\",\"bnb_4bit_blocksize\":64,"
                        + "\"bnb_4bit_use_double_quant\":true,\"bnb_4bit_compute_dtype\":\"float32\",\"bnb_4bit_quant_storage\":\"uint8\"}",
                new com.fasterxml.jackson.databind.ObjectMapper().readTree(dir.resolve("qlora/final/" + QloraMethod.QUANTIZATION_FILE).toFile())
                        .toString());

        // QLoRA is configured as LoRA is, in the lora: block (a LoraConfig beside a BitsAndBytesConfig); a block it would not read is refused.
        Path recipe = dir.resolve("recipe.yaml");
        Files.writeString(recipe, Files.readString(recipe).replace("lora: {", "qlora: {"));
        RecipeException refused = assertThrows(RecipeException.class, () -> new TrainJob(plugins.catalog(), new PrintWriter(log, true))
                .prepare(recipe, new RecipeLoader().read(recipe, List.of()), null));
        assertEquals("recipe.yaml: key 'qlora' is not read; method qlora reads its config from 'lora'", refused.getMessage());

        Exception e = assertThrows(Exception.class, () -> train("qlora", StoriesLoraRuns.STORIES, null, dir.resolve("dense")));
        assertTrue(e.getMessage().startsWith("method qlora trains over a 4-bit base, and this model has no quantized Linear weight"), e.getMessage());
        assertFalse(Files.exists(dir.resolve("dense")), "refused before a run directory exists");
    }

    @Test
    void refusesBadKeysBeforeARunDirectoryExists() {
        Path out = dir.resolve("refused");
        String[][] cases = {
                {"{load_in_4bit: true, bnb_4bit_quant_type: int3}",
                        "recipe.yaml: quantization.bnb_4bit_quant_type 'int3' is not installed; installed: [fp4, nf4]"},
                {"{load_in_4bit: false}",
                        "recipe.yaml: quantization.load_in_4bit must be true: the base quantizes to 4 bits (8-bit loading is not supported)"},
                {"{load_in_4bit: true, bnb_4bit_compute_dtype: bfloat16}", "recipe.yaml: quantization.bnb_4bit_compute_dtype 'bfloat16' is not "
                        + "supported: weights dequantize to float32; set train.precision: bf16 to run the products in bf16"},
                {"{load_in_4bit: true, bnb_4bit_blocksize: 48}", "recipe.yaml: quantization: bnb_4bit_blocksize must be one of "
                        + "[32, 64, 128, 256, 512, 1024, 2048, 4096], as bitsandbytes accepts, not 48"}};
        for (String[] c : cases) {
            RecipeException e = assertThrows(RecipeException.class, () -> train(StoriesLoraRuns.STORIES, c[0], out));
            assertEquals(c[1], e.getMessage());
            assertFalse(Files.exists(out));
        }
        RecipeException e = assertThrows(RecipeException.class, () -> train(StoriesLoraRuns.STORIES,
                "{load_in_4bit: true, bnb_4bit_use_double_qunat: true}", out));
        assertTrue(e.getMessage().startsWith("recipe.yaml: unknown key 'quantization.bnb_4bit_use_double_qunat'"), e.getMessage());
        assertFalse(Files.exists(out));
    }

    @Test
    void refusesToQuantizeAStoredQuantizedModelAgain() throws IOException {
        Path quantized = dir.resolve("stories-nf4");
        new ModelQuantizer(new ModelLoader(plugins.catalog())).write(StoriesLoraRuns.STORIES, new Nf4Quantizer(), Bnb4Config.DEFAULTS,
                new QuantizationConfig("nf4", false, "float32"), new JvmBackend(), quantized);
        Exception e = assertThrows(Exception.class, () -> train(quantized, QUANTIZATION, dir.resolve("again")));
        assertEquals("config.json: key 'quantization_config': the model is stored quantized already; load it without quantizing it again",
                e.getMessage());
    }
}
