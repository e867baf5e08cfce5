package ai.attune.runtime.text;

import ai.attune.api.model.ModelJson;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * Model directories from before {@code tokenizer.json} (GPT-2's original release, older
 * byte-level BPE models) carry a vocabulary ({@code vocab.json} or {@code encoder.json}) and merges
 * ({@code merges.txt} or {@code vocab.bpe}). This builds the {@code tokenizer.json} that
 * transformers' GPT2TokenizerFast converter produces from them: BPE over ByteLevel pre-tokenization
 * (no prefix space, GPT-2's regex), ByteLevel decoding, {@code <|endoftext|>} as the added token.
 */
final class ByteLevelBpeFiles {
    private ByteLevelBpeFiles() {}

    static Optional<String> tokenizerJson(Path dir) throws IOException {
        Path vocab = first(dir, "vocab.json", "encoder.json");
        Path merges = first(dir, "merges.txt", "vocab.bpe");
        if (vocab == null || merges == null) {
            return Optional.empty();
        }
        ObjectMapper json = new ObjectMapper();
        JsonNode vocabNode = ModelJson.readObject(vocab);
        ObjectNode root = json.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        JsonNode eot = vocabNode.get("<|endoftext|>");
        if (eot != null) {
            ObjectNode t = added.addObject();
            t.put("id", eot.asLong()).put("content", "<|endoftext|>").put("single_word", false).put("lstrip", false)
                    .put("rstrip", false).put("normalized", true).put("special", true);
        }
        root.putNull("normalizer");
        root.putObject("pre_tokenizer").put("type", "ByteLevel").put("add_prefix_space", false).put("trim_offsets", true).put("use_regex", true);
        root.putObject("post_processor").put("type", "ByteLevel").put("add_prefix_space", true).put("trim_offsets", false).put("use_regex", true);
        root.putObject("decoder").put("type", "ByteLevel").put("add_prefix_space", true).put("trim_offsets", true).put("use_regex", true);
        ObjectNode model = root.putObject("model");
        model.put("type", "BPE").putNull("dropout").putNull("unk_token").putNull("continuing_subword_prefix")
                .putNull("end_of_word_suffix").put("fuse_unk", false).put("byte_fallback", false);
        model.set("vocab", vocabNode);
        ArrayNode mergeList = model.putArray("merges");
        List<String> lines = ModelJson.read(merges).lines().toList();
        for (String line : lines) {
            if (line.startsWith("#version") || line.isBlank()) {
                continue;
            }
            mergeList.add(line);
        }
        return Optional.of(json.writeValueAsString(root));
    }

    private static Path first(Path dir, String... names) {
        for (String n : names) {
            if (Files.isRegularFile(dir.resolve(n))) {
                return dir.resolve(n);
            }
        }
        return null;
    }
}
