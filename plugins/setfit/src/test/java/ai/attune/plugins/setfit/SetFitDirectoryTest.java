package ai.attune.plugins.setfit;

import ai.attune.api.tensor.Scope;
import ai.attune.kernels.jvm.JvmBackend;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A saved model pools and prompts as its body did: a [CLS]-pooling, prompted body keeps its files. */
class SetFitDirectoryTest {
    private static final String MODULES = """
            [
              {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
              {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
              {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}
            ]
            """;
    private static final String CLS_POOLING = """
            {"word_embedding_dimension": 8, "pooling_mode_cls_token": true, "pooling_mode_mean_tokens": false,
             "pooling_mode_max_tokens": false, "pooling_mode_mean_sqrt_len_tokens": false}
            """;
    private static final String PROMPTS = """
            {"prompts": {"query": "query: ", "passage": "passage: "}, "default_prompt_name": "query"}
            """;

    @TempDir
    Path tmp;

    private void save(Path base, Path out) throws IOException {
        JvmBackend be = new JvmBackend();
        try (Scope scope = Scope.open("test")) {
            ToyEncoder body = new ToyEncoder(be, scope, 1, 0.5);
            LogisticRegressionHead head = new LogisticRegressionHead(List.of("a", "b"), new double[1][ToyEncoder.DIM], new double[1]);
            SetFitDirectory.write(body, ToyEncoder.DIM, base, head, out);
        }
    }

    @Test
    void aSentenceTransformersBodyKeepsItsPoolingAndPrompts() throws IOException {
        Path base = Files.createDirectories(tmp.resolve("bge-like"));
        Files.writeString(base.resolve("modules.json"), MODULES);
        Files.createDirectories(base.resolve("1_Pooling"));
        Files.writeString(base.resolve("1_Pooling/config.json"), CLS_POOLING);
        Files.createDirectories(base.resolve("2_Normalize"));
        Files.writeString(base.resolve("config_sentence_transformers.json"), PROMPTS);
        Files.writeString(base.resolve("sentence_bert_config.json"), "{\"max_seq_length\": 512, \"do_lower_case\": true}\n");
        Path out = tmp.resolve("saved");
        save(base, out);

        assertEquals(CLS_POOLING, Files.readString(out.resolve("1_Pooling/config.json")));
        assertEquals(MODULES, Files.readString(out.resolve("modules.json")));
        assertEquals(PROMPTS, Files.readString(out.resolve("config_sentence_transformers.json")));
        assertEquals("{\"max_seq_length\": 512, \"do_lower_case\": true}\n", Files.readString(out.resolve("sentence_bert_config.json")));
        assertTrue(Files.isDirectory(out.resolve("2_Normalize")));
    }

    @Test
    void aBareEncoderGetsMeanPoolingAndNormalize() throws IOException {
        Path base = Files.createDirectories(tmp.resolve("bare"));
        Path out = tmp.resolve("saved");
        save(base, out);

        JsonNode pooling = new ObjectMapper().readTree(out.resolve("1_Pooling/config.json").toFile());
        assertEquals(ToyEncoder.DIM, pooling.path("word_embedding_dimension").asInt());
        assertTrue(pooling.path("pooling_mode_mean_tokens").asBoolean());
        assertFalse(pooling.path("pooling_mode_cls_token").asBoolean());
        assertEquals(List.of("sentence_transformers.models.Transformer", "sentence_transformers.models.Pooling", "sentence_transformers.models.Normalize"),
                new ObjectMapper().readTree(out.resolve("modules.json").toFile()).findValuesAsText("type"));
        assertTrue(Files.isDirectory(out.resolve("2_Normalize")));
        assertFalse(Files.exists(out.resolve("config_sentence_transformers.json")));
    }
}
