package ai.attune.runtime.model;

import ai.attune.api.model.ModelConfig;
import ai.attune.api.model.ModelJson;
import ai.attune.api.nn.Module;
import ai.attune.api.tensor.Backend;
import ai.attune.runtime.text.Tokenizer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;

/**
 * A model ready to run: its module tree, config, tokenizer, backend and the ids that end generation.
 * Closing it frees the tokenizer's native handle; the weights live in the scope they were loaded into.
 */
public record LoadedModel(Module module, ModelConfig config, Tokenizer tokenizer, Backend backend, Set<Long> eosIds) implements AutoCloseable {
    @Override
    public void close() {
        tokenizer.close();
    }

    /** sentence-transformers' {@code max_seq_length} when the directory has it, else the position limit. */
    public int maxSeqLength() throws IOException {
        Path st = config.dir().resolve("sentence_bert_config.json");
        if (Files.exists(st)) {
            int n = ModelJson.readObject(st).path("max_seq_length").asInt(0);
            if (n > 0) {
                return n;
            }
        }
        return config.intOr("max_position_embeddings", 512);
    }

    /** The prompts of the directory's {@code config_sentence_transformers.json} (none without it). */
    public SentenceTransformersConfig sentenceTransformers() throws IOException {
        return SentenceTransformersConfig.read(config.dir());
    }
}
