package ai.attune.runtime.text;

import ai.attune.api.model.ModelJson;
import ai.attune.api.model.ModelLoadException;
import ai.attune.api.text.ChatRenderer;
import ai.attune.api.text.TextTokenizer;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/**
 * A model directory's tokenizer: {@code tokenizer.json} run by the Hugging Face tokenizers library
 * (through DJL, offline), with {@code tokenizer_config.json}'s special-token rules. When the config
 * sets {@code add_bos_token}/{@code add_eos_token} (Llama style) those decide; otherwise the
 * tokenizer.json post-processor does (BERT's [CLS]/[SEP], nothing for GPT-2).
 */
public final class Tokenizer implements TextTokenizer, AutoCloseable {
    private final HuggingFaceTokenizer hf;
    private final Map<String, Long> specialIds;
    private final int vocabSize;
    private final Boolean addBos;
    private final Boolean addEos;
    private final String bosToken;
    private final String eosToken;
    private final JsonNode config;
    private Optional<ChatRenderer> chatTemplate; // parsed on first use: most runs never render a chat

    private Tokenizer(HuggingFaceTokenizer hf, Map<String, Long> specialIds, int vocabSize, JsonNode config) {
        this.hf = hf;
        this.specialIds = specialIds;
        this.vocabSize = vocabSize;
        this.config = config;
        this.addBos = config.has("add_bos_token") ? config.get("add_bos_token").asBoolean() : null;
        this.addEos = config.has("add_eos_token") ? config.get("add_eos_token").asBoolean() : null;
        this.bosToken = tokenString(config.get("bos_token"));
        this.eosToken = tokenString(config.get("eos_token"));
    }

    /**
     * Loads {@code dir/tokenizer.json} (or builds it from a byte-level BPE vocabulary and merges)
     * and, if present, {@code dir/tokenizer_config.json}.
     */
    public static Tokenizer load(Path dir) throws IOException {
        Path file = dir.resolve("tokenizer.json");
        String text;
        try {
            text = ModelJson.read(file);
        } catch (NoSuchFileException e) {
            text = ByteLevelBpeFiles.tokenizerJson(dir).orElseThrow(() -> new ModelLoadException(file,
                    "not found in " + dir + "; the model directory needs a tokenizer.json (or vocab.json and merges.txt)"));
        }
        JsonNode tok = ModelJson.parseObject(file, text);
        NativeJsonLimits.check(file, tok);
        NativeJsonLimits.checkMerges(file, tok);
        Path cfgFile = dir.resolve("tokenizer_config.json");
        JsonNode cfg = Files.exists(cfgFile) ? ModelJson.readObject(cfgFile) : JsonNodeFactory.instance.objectNode();
        Map<String, Long> special = new HashMap<>();
        long maxId = -1;
        for (JsonNode t : tok.path("added_tokens")) {
            long id = id(file, "added_tokens", t.path("id"));
            special.put(t.path("content").asText(), id);
            maxId = Math.max(maxId, id);
        }
        JsonNode vocab = tok.path("model").path("vocab");
        if (vocab.isObject()) {
            for (var it = vocab.properties().iterator(); it.hasNext(); ) {
                var e = it.next();
                maxId = Math.max(maxId, id(file, "model.vocab", e.getValue()));
            }
        } else if (vocab.isArray()) {
            maxId = Math.max(maxId, vocab.size() - 1); // Unigram: [[piece, score], ...]
        }
        Map<String, String> options = new HashMap<>();
        options.put("addSpecialTokens", "false");
        options.put("truncation", "false");
        options.put("padding", "false");
        try (InputStream in = new java.io.ByteArrayInputStream(text.getBytes(java.nio.charset.StandardCharsets.UTF_8))) {
            return new Tokenizer(HuggingFaceTokenizer.newInstance(in, options), special, (int) (maxId + 1), cfg);
        } catch (RuntimeException e) {
            String why = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage().lines().findFirst().orElse("");
            throw new ModelLoadException(file, "cannot be loaded by the tokenizers library: " + why);
        }
    }

    /** A token id: an integer the model can index, so that the vocabulary size fits an int. */
    private static long id(Path file, String key, JsonNode n) throws ModelLoadException {
        if (!n.isIntegralNumber() || !n.canConvertToInt() || n.intValue() < 0 || n.intValue() == Integer.MAX_VALUE) {
            throw new ModelLoadException(file, "key '" + key + "' holds id " + abbreviate(n.toString()) + "; token ids are integers in [0, "
                    + (Integer.MAX_VALUE - 1) + "]");
        }
        return n.intValue();
    }

    private static String abbreviate(String s) {
        return s.length() > 40 ? s.substring(0, 40) + "..." : s;
    }

    @Override
    public int vocabSize() {
        return vocabSize;
    }

    @Override
    public long[] encode(String text) {
        if (addBos == null && addEos == null) {
            return hf.encode(text, true, false).getIds();
        }
        long[] body = hf.encode(text, false, false).getIds();
        Optional<Long> bos = Boolean.TRUE.equals(addBos) ? bosId() : Optional.empty();
        Optional<Long> eos = Boolean.TRUE.equals(addEos) ? eosId() : Optional.empty();
        long[] out = new long[body.length + (bos.isPresent() ? 1 : 0) + (eos.isPresent() ? 1 : 0)];
        int i = 0;
        if (bos.isPresent()) {
            out[i++] = bos.get();
        }
        System.arraycopy(body, 0, out, i, body.length);
        eos.ifPresent(e -> out[out.length - 1] = e);
        return out;
    }

    @Override
    public long[] encodeRaw(String text) {
        return hf.encode(text, false, false).getIds();
    }

    @Override
    public String decode(long[] ids) {
        return hf.decode(ids, true);
    }

    @Override
    public Optional<Long> bosId() {
        return bosToken == null ? Optional.empty() : Optional.ofNullable(specialIds.get(bosToken));
    }

    @Override
    public Optional<Long> eosId() {
        return eosToken == null ? Optional.empty() : Optional.ofNullable(specialIds.get(eosToken));
    }

    public String bosToken() {
        return bosToken;
    }

    @Override
    public String eosToken() {
        return eosToken;
    }

    /** The raw {@code tokenizer_config.json} (e.g. its {@code chat_template}). */
    public JsonNode config() {
        return config;
    }

    @Override
    public synchronized Optional<ChatRenderer> chatTemplate() {
        if (chatTemplate == null) {
            chatTemplate = ChatTemplate.of(this).map(t -> (messages, generationPrompt) -> t.render(messages, generationPrompt, bosToken, eosToken));
        }
        return chatTemplate;
    }

    private static String tokenString(JsonNode n) {
        if (n == null || n.isNull()) {
            return null;
        }
        return n.isObject() ? n.path("content").asText(null) : n.asText();
    }

    @Override
    public void close() {
        hf.close();
    }
}
