package ai.attune.plugins.prompttuning;

import ai.attune.api.autograd.Autograd;
import ai.attune.api.autograd.F;
import ai.attune.api.autograd.Views;
import ai.attune.api.io.SafetensorsFile;
import ai.attune.api.io.SafetensorsReader;
import ai.attune.api.model.CausalLM;
import ai.attune.api.model.ModelConfig;
import ai.attune.api.nn.DropoutSeeds;
import ai.attune.api.nn.Module;
import ai.attune.api.nn.Parameter;
import ai.attune.api.spi.MethodContext;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;
import ai.attune.kernels.jvm.JvmBackend;
import ai.attune.plugins.model.llama.LlamaFamily;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Prompt tuning on the pretrained stories260K: what trains, what the gradient reaches, and PEFT's adapter files. */
class PromptTuningMethodTest {
    static final Path STORIES = Path.of("../../../shared/models/stories260K");
    final JvmBackend be = new JvmBackend();

    @TempDir
    Path tmp;

    CausalLM load(Scope job) throws Exception {
        try (SafetensorsReader w = SafetensorsReader.openModelDir(STORIES)) {
            return (CausalLM) new LlamaFamily().load(ModelConfig.read(STORIES), w, be, DType.F32, job);
        }
    }

    MethodContext ctx(Scope job) {
        return new MethodContext(be, DType.F32, job, 7, new DropoutSeeds(7), STORIES, null);
    }

    @Test
    void onlyThePromptTrainsAndItsGradientIsTheOnlyOne() throws Exception {
        try (Scope job = Scope.open("job")) {
            CausalLM lm = load(job);
            Module m = lm.module();
            List<Parameter> trainable = new PromptTuningMethod().apply(m, new PromptTuningConfig(4, "RANDOM", null, null), ctx(job));
            assertEquals(1, trainable.size());
            assertEquals(List.of("prompt_encoder.weight"), m.namedParameters().entrySet().stream().filter(e -> e.getValue().trainable())
                    .map(java.util.Map.Entry::getKey).toList());
            assertArrayEquals(new int[] {4, 64}, trainable.get(0).value().shape());
            double[] init = Tensors.toDoubles(trainable.get(0).value());
            double mean = java.util.Arrays.stream(init).average().orElseThrow();
            double var = java.util.Arrays.stream(init).map(x -> (x - mean) * (x - mean)).sum() / init.length;
            assertEquals(1.0, var, 0.25, "N(0, 1) as torch.nn.Embedding");
            try (Scope step = Scope.open("step")) {
                long[] ids = {1, 403, 407, 261};
                Tensor logits = lm.forward(Tensors.ofLongs(be, ids, 1, 4), null, null); // [1, 4 + 4, 512]
                assertArrayEquals(new int[] {1, 8, 512}, logits.shape());
                Tensor loss = F.crossEntropy(Views.reshape(logits, 8, 512),
                        Tensors.ofLongs(be, new long[] {-100, -100, -100, 1, 403, 407, 261, -100}, 8), -100, F.Reduction.MEAN);
                Autograd.backward(loss);
                assertTrue(java.util.Arrays.stream(Tensors.toDoubles(trainable.get(0).grad())).anyMatch(g -> g != 0), "the prompt gets a gradient");
                for (var e : m.namedParameters().entrySet()) {
                    if (!e.getValue().trainable()) {
                        assertEquals(null, e.getValue().grad(), e.getKey() + " stays frozen");
                    }
                }
            }
        }
    }

    @Test
    void savesPeftsPromptTuningAdapterAndStartsFromIt() throws Exception {
        Path out = tmp.resolve("adapter");
        float[] saved;
        try (Scope job = Scope.open("job")) {
            CausalLM lm = load(job);
            PromptTuningConfig c = new PromptTuningConfig(3, "RANDOM", null, null);
            List<Parameter> p = new PromptTuningMethod().apply(lm.module(), c, ctx(job));
            saved = Tensors.toFloats(p.get(0).value());
            new PromptTuningMethod().save(lm.module(), c, ctx(job), out);
        }
        try (SafetensorsFile st = SafetensorsFile.open(out.resolve("adapter_model.safetensors"))) {
            assertEquals(java.util.Set.of("prompt_embeddings"), st.names());
            assertArrayEquals(new long[] {3, 64}, st.info("prompt_embeddings").shape());
            assertArrayEquals(saved, st.data("prompt_embeddings").toArray(ValueLayout.JAVA_FLOAT_UNALIGNED));
        }
        JsonNode cfg = new ObjectMapper().readTree(out.resolve("adapter_config.json").toFile());
        assertEquals("PROMPT_TUNING", cfg.get("peft_type").asText());
        assertEquals("CAUSAL_LM", cfg.get("task_type").asText());
        assertEquals(3, cfg.get("num_virtual_tokens").asInt());
        assertEquals(64, cfg.get("token_dim").asInt()); // stories260K: hidden 64, 5 layers, 8 heads
        assertEquals(5, cfg.get("num_layers").asInt());
        assertEquals(8, cfg.get("num_attention_heads").asInt());
        assertEquals(1, cfg.get("num_transformer_submodules").asInt());

        try (Scope job = Scope.open("job")) {
            CausalLM lm = load(job);
            List<Parameter> p = new PromptTuningMethod().apply(lm.module(), new PromptTuningConfig(3, "RANDOM", null, out.toString()), ctx(job));
            assertArrayEquals(saved, Tensors.toFloats(p.get(0).value()), "init_from starts where the adapter ended");
            CausalLM other = load(job);
            List<Parameter> q = new PromptTuningMethod().apply(other.module(), new PromptTuningConfig(3, "RANDOM", null, null), 
                    new MethodContext(be, DType.F32, job, 8, new DropoutSeeds(8), STORIES, null));
            assertNotEquals(saved[0], Tensors.toFloats(q.get(0).value())[0], "another seed draws another prompt");
            CausalLM third = load(job);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new PromptTuningMethod().apply(third.module(),
                    new PromptTuningConfig(5, "RANDOM", null, out.toString()), ctx(job)));
            assertTrue(e.getMessage().contains("not F32 [5, 64]"), e.getMessage());
        }
        assertFalse(java.nio.file.Files.exists(tmp.resolve(".adapter.tmp")));
    }
}
