package ai.attune.plugins.model.bert;

import ai.attune.api.io.SafetensorsReader;
import ai.attune.api.model.ModelConfig;
import ai.attune.api.model.ModelLoadException;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.kernels.jvm.JvmBackend;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Bad checkpoints fail with one-line {@link ModelLoadException}s that name the file and the key or tensor. */
class BertLoadErrorsTest {
    @TempDir
    Path dir;

    private final TinyBert w = new TinyBert(5);

    private ModelLoadException loadFails(Path modelDir) {
        return assertThrows(ModelLoadException.class, () -> {
            ModelConfig config = ModelConfig.read(modelDir);
            try (SafetensorsReader weights = SafetensorsReader.openModelDir(modelDir); Scope params = Scope.detached("params")) {
                new BertFamily().load(config, weights, new JvmBackend(), DType.F32, params);
            }
        });
    }

    @Test
    void aMissingWeightIsNamed() throws IOException {
        String missing = "encoder.layer.1.output.dense.bias";
        Path d = w.write(dir.resolve("m"), TinyBert.config(TinyBert.HIDDEN, TinyBert.HEADS, ""), n -> n.equals(missing) ? null : n, Map.of());
        assertEquals("model.safetensors: missing weight '" + missing + "' of shape [12]", loadFails(d).getMessage());
    }

    @Test
    void aWronglyShapedWeightIsNamed() throws IOException {
        String name = "encoder.layer.0.attention.self.key.weight";
        Path d = w.write(dir.resolve("s"), TinyBert.config(TinyBert.HIDDEN, TinyBert.HEADS, ""), n -> n.equals(name) ? null : n,
                Map.of(name, new TinyBert.W(new int[] {TinyBert.HIDDEN, 11}, new double[TinyBert.HIDDEN * 11])));
        assertEquals("model.safetensors: weight '" + name + "' has shape [12, 11], expected [12, 12]", loadFails(d).getMessage());
    }

    @Test
    void contradictoryOrMissingConfigKeysAreNamed() throws IOException {
        Path d = w.write(dir.resolve("h"), TinyBert.config(TinyBert.HIDDEN, 5, ""), n -> n, Map.of());
        assertEquals("config.json: hidden_size 12 is not a multiple of num_attention_heads 5", loadFails(d).getMessage());

        String noLayers = TinyBert.config(TinyBert.HIDDEN, TinyBert.HEADS, "").replace("\"num_hidden_layers\": 2,", "");
        d = w.write(dir.resolve("l"), noLayers, n -> n, Map.of());
        assertEquals("config.json: missing key 'num_hidden_layers' (an integer)", loadFails(d).getMessage());

        d = w.write(dir.resolve("a"), TinyBert.config(TinyBert.HIDDEN, TinyBert.HEADS, "")
                .replace("\"hidden_act\": \"gelu\"", "\"hidden_act\": \"quick_gelu\""), n -> n, Map.of());
        assertTrue(loadFails(d).getMessage().startsWith("config.json: key 'hidden_act' is 'quick_gelu'"));

        d = w.write(dir.resolve("p"), TinyBert.config(TinyBert.HIDDEN, TinyBert.HEADS, ", \"position_embedding_type\": \"relative_key\""), n -> n, Map.of());
        assertEquals("config.json: key 'position_embedding_type' is 'relative_key'; only 'absolute' is supported", loadFails(d).getMessage());

        d = w.write(dir.resolve("d"), TinyBert.config(TinyBert.HIDDEN, TinyBert.HEADS, ", \"is_decoder\": true"), n -> n, Map.of());
        assertTrue(loadFails(d).getMessage().startsWith("config.json: keys 'is_decoder' / 'add_cross_attention'"));

        d = w.write(dir.resolve("z"), TinyBert.config(TinyBert.HIDDEN, TinyBert.HEADS, "").replace("\"vocab_size\": 30", "\"vocab_size\": 0"), n -> n, Map.of());
        assertEquals("config.json: key 'vocab_size' must be positive, found 0", loadFails(d).getMessage());
    }

    @Test
    void acceptsBertConfigsOnly() throws IOException {
        ObjectMapper json = new ObjectMapper();
        BertFamily family = new BertFamily();
        assertTrue(family.accepts(ModelConfig.of(dir, json.readTree("{\"model_type\": \"bert\"}"))));
        assertTrue(family.accepts(ModelConfig.of(dir, json.readTree("{\"architectures\": [\"BertForMaskedLM\"]}"))));
        assertFalse(family.accepts(ModelConfig.of(dir, json.readTree("{\"model_type\": \"roberta\", \"architectures\": [\"BertModel\"]}"))));
        assertFalse(family.accepts(ModelConfig.of(dir, json.readTree("{\"model_type\": \"gpt2\"}"))));
    }
}
