package ai.attune.api.text;

import java.util.Optional;

/**
 * A model's tokenizer: {@code tokenizer.json} with the special-token rules of
 * {@code tokenizer_config.json}, as transformers' {@code AutoTokenizer} applies them.
 */
public interface TextTokenizer {
    /** Number of ids the tokenizer can produce (vocabulary plus added tokens). */
    int vocabSize();

    /** Token ids of {@code text} with the special tokens the model expects (e.g. BOS): {@code tokenizer(text)["input_ids"]}. */
    long[] encode(String text);

    /** Token ids of {@code text} without any special tokens (e.g. a completion appended to a prompt). */
    long[] encodeRaw(String text);

    /** The text of {@code ids}, special tokens skipped, as {@code tokenizer.decode(ids, skip_special_tokens=True)}. */
    String decode(long[] ids);

    Optional<Long> bosId();

    Optional<Long> eosId();

    /** The {@code eos_token} the config names, or null (it may name one the vocabulary lacks: then {@link #eosId} is empty). */
    String eosToken();

    /** The model's {@code chat_template}, if its tokenizer config has one. */
    Optional<ChatRenderer> chatTemplate();
}
