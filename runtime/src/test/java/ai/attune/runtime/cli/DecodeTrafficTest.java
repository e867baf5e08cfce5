package ai.attune.runtime.cli;

import ai.attune.api.io.SafetensorsReader;
import ai.attune.api.model.ModelConfig;
import ai.attune.api.nn.Module;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.kernels.jvm.JvmBackend;
import ai.attune.plugins.model.llama.LlamaFamily;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The weight bytes a decoded token streams, against the count from a Llama config alone: per layer
 * q, k, v, o, gate, up and down and two RMSNorms, the final norm, and the LM head (the embedding
 * matrix when tied); an untied embedding is only gathered and does not count.
 */
class DecodeTrafficTest {
    private final JvmBackend be = new JvmBackend();

    /** The bytes from the config's numbers, f32: what one position's forward reads of a Llama's weights. */
    static long llamaDecodeBytes(JsonNode c) {
        long h = c.path("hidden_size").asLong();
        long inter = c.path("intermediate_size").asLong();
        long heads = c.path("num_attention_heads").asLong();
        long kvHeads = c.path("num_key_value_heads").asLong(heads);
        long headDim = c.path("head_dim").asLong(h / heads);
        long vocab = c.path("vocab_size").asLong();
        long attention = h * heads * headDim * 2 + h * kvHeads * headDim * 2; // q and o; k and v
        long mlp = 3 * h * inter;
        long norms = 2 * h;
        long perLayer = attention + mlp + norms;
        return 4 * (c.path("num_hidden_layers").asLong() * perLayer + h + vocab * h);
    }

    private long measured(ObjectNode config) throws IOException {
        try (Scope s = Scope.open("model")) {
            Module m = new LlamaFamily().create(ModelConfig.of(Path.of("."), config), be, DType.F32, s);
            return DecodeTraffic.weightBytesPerToken(m);
        }
    }

    @Test
    void thePresetStreamsItsLinearsNormsAndTiedHead() throws IOException {
        ObjectNode preset = (ObjectNode) new ObjectMapper().readTree(BenchCommand.PRESETS.get("llama-100m"));
        long expected = llamaDecodeBytes(preset);
        // 12 x (4 x 768² + 3 x 768 x 2048 + 2 x 768) + 768 + 32000 x 768 parameters, 4 bytes each.
        assertEquals(4L * (12L * (4 * 768 * 768 + 3 * 768 * 2048 + 2 * 768) + 768 + 32000L * 768), expected);
        assertEquals(expected, measured(preset));
    }

    @Test
    void anUntiedEmbeddingIsGatheredNotStreamed() throws IOException {
        ObjectNode small = (ObjectNode) new ObjectMapper().readTree("""
                {"model_type": "llama", "hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 2, "num_attention_heads": 4,
                 "num_key_value_heads": 2, "vocab_size": 300, "max_position_embeddings": 64, "rms_norm_eps": 1e-5, "tie_word_embeddings": false}""");
        long untied = measured(small);
        assertEquals(llamaDecodeBytes(small), untied, "the untied lm_head counts once, the embedding not at all");
        long tied = measured(small.put("tie_word_embeddings", true));
        assertEquals(untied, tied, "tied or not, one vocab x hidden matrix is streamed");
    }

    @Test
    void aPretrainedCheckpointWithGroupedQueryAttention() throws IOException {
        Path stories = Path.of("../../shared/models/stories260K");
        JsonNode config = new ObjectMapper().readTree(stories.resolve("config.json").toFile());
        try (Scope s = Scope.open("model"); SafetensorsReader w = SafetensorsReader.openModelDir(stories)) {
            Module m = new LlamaFamily().load(ModelConfig.read(stories), w, be, DType.F32, s);
            assertEquals(llamaDecodeBytes(config), DecodeTraffic.weightBytesPerToken(m));
        }
    }
}
