package ai.attune.plugins.model.gpt2;

import ai.attune.api.model.ModelConfig;
import ai.attune.api.model.ModelLoadException;
import ai.attune.api.tensor.Scope;
import ai.attune.kernels.jvm.JvmBackend;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Bad checkpoints fail with a ModelLoadException naming the file and the tensor or key. */
class Gpt2LoadErrorsTest {
    private final JvmBackend backend = new JvmBackend();

    private ModelLoadException loadFails(Path dir) {
        try (Scope scope = Scope.open()) {
            return assertThrows(ModelLoadException.class, () -> Gpt2LMHeadModelTest.load(dir, backend, scope));
        }
    }

    @Test
    void missingWeightIsNamed(@TempDir Path dir) throws IOException {
        TinyGpt2 tiny = TinyGpt2.standard(1);
        Map<String, TinyGpt2.W> tensors = tiny.checkpoint(true);
        tensors.remove("transformer.h.1.mlp.c_fc.bias");
        TinyGpt2.writeConfig(dir, tiny.config());
        TinyGpt2.writeWeights(dir, tensors);
        String message = loadFails(dir).getMessage();
        assertTrue(message.startsWith("model.safetensors: "), message);
        assertTrue(message.contains("'transformer.h.1.mlp.c_fc.bias'") && message.contains("[64]"), message);
    }

    @Test
    void missingWeightInBareLayoutIsNamedAsTheFileWouldName(@TempDir Path dir) throws IOException {
        TinyGpt2 tiny = TinyGpt2.standard(1);
        Map<String, TinyGpt2.W> tensors = tiny.checkpoint(false);
        tensors.remove("ln_f.weight");
        TinyGpt2.writeConfig(dir, tiny.config());
        TinyGpt2.writeWeights(dir, tensors);
        String message = loadFails(dir).getMessage();
        assertTrue(message.startsWith("model.safetensors: ") && message.contains("'ln_f.weight'"), message);
    }

    @Test
    void wrongShapedWeightIsNamed(@TempDir Path dir) throws IOException {
        TinyGpt2 tiny = TinyGpt2.standard(1);
        Map<String, TinyGpt2.W> tensors = tiny.checkpoint(true);
        // A Linear-layout [out, in] weight where Conv1D's [in, out] belongs.
        TinyGpt2.W w = tensors.get("transformer.h.0.attn.c_attn.weight");
        tensors.put("transformer.h.0.attn.c_attn.weight", new TinyGpt2.W(new long[] {48, 16}, w.data()));
        TinyGpt2.writeConfig(dir, tiny.config());
        TinyGpt2.writeWeights(dir, tensors);
        String message = loadFails(dir).getMessage();
        assertTrue(message.startsWith("model.safetensors: "), message);
        assertTrue(message.contains("'transformer.h.0.attn.c_attn.weight'") && message.contains("[48, 16]")
                && message.contains("[16, 48]"), message);
    }

    @ParameterizedTest(name = "{0} = {1}")
    @CsvSource(delimiter = '|', value = {
            "n_layer              | <remove>  | n_layer",
            "n_embd               | \"16\"    | n_embd",
            "n_head               | 5         | n_head",
            "vocab_size           | 0         | vocab_size",
            "n_positions          | <remove>  | n_positions",
            "activation_function  | \"swiglu\"| activation_function",
            "layer_norm_epsilon   | -1.0      | layer_norm_epsilon",
            "tie_word_embeddings  | \"yes\"   | tie_word_embeddings",
            "hidden_size          | 32        | hidden_size",
            "n_inner              | -4        | n_inner",
            "resid_pdrop          | 1.5       | resid_pdrop",
    })
    void badConfigKeyIsNamed(String key, String json, String named, @TempDir Path dir) throws IOException {
        TinyGpt2 tiny = TinyGpt2.standard(1);
        ObjectNode config = tiny.config();
        if (json.equals("<remove>")) {
            config.remove(key);
        } else {
            config.set(key, new com.fasterxml.jackson.databind.ObjectMapper().readTree(json));
        }
        TinyGpt2.writeConfig(dir, config);
        TinyGpt2.writeWeights(dir, tiny.checkpoint(true));
        String message = loadFails(dir).getMessage();
        assertTrue(message.startsWith("config.json: "), message);
        assertTrue(message.contains("'" + named + "'"), message);
    }

    @Test
    void aliasKeysAreRead(@TempDir Path dir) throws IOException {
        TinyGpt2 tiny = TinyGpt2.standard(1);
        ObjectNode config = tiny.config();
        config.remove("n_embd");
        config.put("hidden_size", TinyGpt2.N_EMBD);
        assertEquals(TinyGpt2.N_EMBD, Gpt2Config.from(ModelConfig.of(dir, config)).nEmbd());
    }

    @Test
    void nonGpt2ConfigIsRefused(@TempDir Path dir) throws IOException {
        TinyGpt2 tiny = TinyGpt2.standard(1);
        ObjectNode config = tiny.config();
        config.put("model_type", "llama");
        config.putArray("architectures").add("LlamaForCausalLM");
        TinyGpt2.writeConfig(dir, config);
        TinyGpt2.writeWeights(dir, tiny.checkpoint(true));
        String message = loadFails(dir).getMessage();
        assertTrue(message.startsWith("config.json: ") && message.contains("llama"), message);
    }
}
