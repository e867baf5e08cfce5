package ai.attune.runtime.plan;

import ai.attune.api.model.ModelConfig;
import ai.attune.api.model.ModelLoadException;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Parameter counts from config.json alone, against the counts the models themselves report. */
class ModelShapeTest {
    static ModelShape of(String json) throws Exception {
        return ModelShape.of(ModelConfig.of(Path.of("m"), new ObjectMapper().readTree(json)));
    }

    @Test
    void theBenchPresetHasTheCountBenchPrints() throws Exception {
        // "train llama-100m with full in fp32 on jvm: 109,529,856 parameters" (attune bench --preset llama-100m --method full)
        ModelShape m = of("""
                {"model_type": "llama", "hidden_size": 768, "intermediate_size": 2048, "num_hidden_layers": 12,
                 "num_attention_heads": 12, "num_key_value_heads": 12, "vocab_size": 32000, "tie_word_embeddings": true}""");
        assertEquals(109_529_856L, m.parameterCount());
    }

    @Test
    void stories260KFromItsOwnConfig() throws Exception {
        // bench prints 268,992 parameters for it with LoRA's 8,960 (r 8 on q_proj and v_proj) included
        ModelShape m = ModelShape.of(ModelConfig.read(Path.of("../../shared/models/stories260K")));
        assertEquals(268_992L - 8_960L, m.parameterCount());
        assertEquals(8, m.headDim());
        assertEquals(32, m.kvWidth());
    }

    @Test
    void llama2With7BParameters() throws Exception {
        // meta-llama/Llama-2-7b-hf: 6,738,415,616 parameters (its safetensors index and the paper's 6.7B)
        ModelShape m = of("""
                {"model_type": "llama", "hidden_size": 4096, "intermediate_size": 11008, "num_hidden_layers": 32,
                 "num_attention_heads": 32, "num_key_value_heads": 32, "vocab_size": 32000, "tie_word_embeddings": false}""");
        assertEquals(6_738_415_616L, m.parameterCount());
    }

    @Test
    void anotherFamilyIsRefusedByName() {
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> of("""
                {"model_type": "gpt2", "n_embd": 768, "n_layer": 12, "n_head": 12, "vocab_size": 50257}"""));
        assertTrue(e.getMessage().contains("model_type 'gpt2': the memory planner knows the llama family"), e.getMessage());
    }

    @Test
    void aMissingSizeNamesItsKey() {
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> of("""
                {"model_type": "llama", "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "vocab_size": 32000}"""));
        assertTrue(e.getMessage().contains("missing key 'intermediate_size'"), e.getMessage());
    }
}
