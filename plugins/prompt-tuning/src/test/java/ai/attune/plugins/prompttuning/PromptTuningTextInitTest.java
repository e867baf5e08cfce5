package ai.attune.plugins.prompttuning;

import ai.attune.api.io.SafetensorsFile;
import ai.attune.api.io.SafetensorsReader;
import ai.attune.api.model.CausalLM;
import ai.attune.api.model.ModelConfig;
import ai.attune.api.nn.DropoutSeeds;
import ai.attune.api.nn.Parameter;
import ai.attune.api.spi.MethodContext;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensors;
import ai.attune.kernels.jvm.JvmBackend;
import ai.attune.plugins.model.llama.LlamaFamily;
import ai.attune.runtime.text.Tokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * PEFT's {@code prompt_tuning_init: TEXT} on the pretrained stories260K with its real tokenizer.
 * The oracle, worked by hand: "Once upon a time," is BOS then 403 407 261 378 432 (llama2.c's
 * published stories260K sample, TokenizerTest); PEFT cuts those six ids to the first P, or repeats
 * them ceil(P / 6) times and keeps the first P; the prompt's rows must then be those rows of
 * {@code model.embed_tokens.weight}, read straight from model.safetensors.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class PromptTuningTextInitTest {
    static final Path STORIES = PromptTuningMethodTest.STORIES;
    static final String TEXT = "Once upon a time,";
    static final int HIDDEN = 64;
    final JvmBackend be = new JvmBackend();
    Tokenizer tok;
    float[] embeddings; // [512, 64], as stored

    @TempDir
    Path tmp;

    @BeforeAll
    void load() throws Exception {
        tok = Tokenizer.load(STORIES);
        try (SafetensorsFile st = SafetensorsFile.open(STORIES.resolve("model.safetensors"))) {
            assertEquals("F32", st.info("model.embed_tokens.weight").dtype().toString());
            embeddings = st.data("model.embed_tokens.weight").toArray(ValueLayout.JAVA_FLOAT_UNALIGNED);
        }
    }

    @AfterAll
    void close() {
        tok.close();
    }

    @Test
    void theTokenizerGivesThePublishedIds() {
        assertArrayEquals(new long[] {1, 403, 407, 261, 378, 432}, tok.encode(TEXT));
    }

    @Test
    void asManyVirtualTokensAsTextTokensTakesEachRowOnce() throws Exception {
        assertEquals(rows(1, 403, 407, 261, 378, 432), prompt(6, TEXT));
    }

    @Test
    void fewerVirtualTokensKeepTheFirstIds() throws Exception {
        assertEquals(rows(1, 403, 407, 261), prompt(4, TEXT));
    }

    @Test
    void moreVirtualTokensRepeatTheIds() throws Exception {
        // ceil(14 / 6) = 3 copies of the six ids, cut to 14.
        assertEquals(rows(1, 403, 407, 261, 378, 432, 1, 403, 407, 261, 378, 432, 1, 403), prompt(14, TEXT));
    }

    @Test
    void anEmptyTextIsTheTokenizersBosAlone() throws Exception {
        assertArrayEquals(new long[] {1}, tok.encode("")); // add_bos_token: true, as tokenizer("") gives for Llama
        assertEquals(rows(1, 1, 1), prompt(3, ""));
    }

    @Test
    void thePromptIsACopyAndTheEmbeddingStaysFrozen() throws Exception {
        try (Scope job = Scope.open("job")) {
            CausalLM lm = model(job);
            Parameter prompt = new PromptTuningMethod().apply(lm.module(), textConfig(2), ctx(job)).getFirst();
            be.fill(prompt.value(), 0.0);
            float[] table = Tensors.toFloats(lm.inputEmbeddings().weight().value());
            assertArrayEquals(java.util.Arrays.copyOfRange(embeddings, 0, 2 * HIDDEN), java.util.Arrays.copyOfRange(table, 0, 2 * HIDDEN));
            assertEquals(false, lm.inputEmbeddings().weight().trainable());
        }
    }

    @Test
    void textInitNeedsItsText() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new PromptTuningConfig(8, "TEXT", null, null));
        assertEquals("prompt_tuning_init TEXT needs prompt_tuning_init_text, the text whose token embeddings start the prompt", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new PromptTuningConfig(8, "VOCAB", null, null));
        assertEquals("prompt_tuning_init must be RANDOM or TEXT, got 'VOCAB'", e.getMessage());
    }

    @Test
    void theSavedConfigNamesTheTextAndTheTokenizerAsPeftWantsThem() throws Exception {
        Path out = tmp.resolve("adapter");
        try (Scope job = Scope.open("job")) {
            CausalLM lm = model(job);
            new PromptTuningMethod().apply(lm.module(), textConfig(6), ctx(job));
            new PromptTuningMethod().save(lm.module(), textConfig(6), ctx(job), out);
        }
        JsonNode cfg = new ObjectMapper().readTree(out.resolve("adapter_config.json").toFile());
        assertEquals("TEXT", cfg.get("prompt_tuning_init").asText());
        assertEquals(TEXT, cfg.get("prompt_tuning_init_text").asText());
        assertEquals(STORIES.toString(), cfg.get("tokenizer_name_or_path").asText());
        try (SafetensorsFile st = SafetensorsFile.open(out.resolve("adapter_model.safetensors"))) {
            float[] saved = st.data("prompt_embeddings").toArray(ValueLayout.JAVA_FLOAT_UNALIGNED);
            assertEquals(rows(1, 403, 407, 261, 378, 432), List.of(box(saved)));
        }
    }

    PromptTuningConfig textConfig(int p) {
        return new PromptTuningConfig(p, "TEXT", TEXT, null);
    }

    MethodContext ctx(Scope job) {
        return new MethodContext(be, DType.F32, job, 7, new DropoutSeeds(7), STORIES, tok);
    }

    CausalLM model(Scope job) throws Exception {
        try (SafetensorsReader w = SafetensorsReader.openModelDir(STORIES)) {
            return (CausalLM) new LlamaFamily().load(ModelConfig.read(STORIES), w, be, DType.F32, job);
        }
    }

    /** The prompt a fresh stories260K gets from {@code text} with P virtual tokens, flattened. */
    List<Float> prompt(int p, String text) throws Exception {
        try (Scope job = Scope.open("job")) {
            Parameter prompt = new PromptTuningMethod().apply(model(job).module(), new PromptTuningConfig(p, "TEXT", text, null), ctx(job)).getFirst();
            assertArrayEquals(new int[] {p, HIDDEN}, prompt.value().shape());
            return List.of(box(Tensors.toFloats(prompt.value())));
        }
    }

    /** The stored embedding rows of {@code ids}, one after another. */
    List<Float> rows(long... ids) {
        float[] out = new float[ids.length * HIDDEN];
        for (int i = 0; i < ids.length; i++) {
            System.arraycopy(embeddings, (int) ids[i] * HIDDEN, out, i * HIDDEN, HIDDEN);
        }
        return List.of(box(out));
    }

    static Float[] box(float[] a) {
        Float[] out = new Float[a.length];
        for (int i = 0; i < a.length; i++) {
            out[i] = a[i];
        }
        return out;
    }
}
