package ai.attune.runtime.data;

import ai.attune.runtime.text.ChatTemplate;
import ai.attune.runtime.text.Tokenizer;

/**
 * What a format needs from the model to tokenize rows: the tokenizer, the model's vocabulary size
 * (to check pre-tokenized ids), the EOS id, the chat template and the length limit past which
 * tokens are cut (so labels there need not be worked out). Checked once, up front, so a model that
 * cannot serve a format fails before any row is read.
 */
record Encoder(Tokenizer tokenizer, int vocabSize, long eosId, ChatTemplate chatTemplate, int limit) {
    static Encoder of(String format, Tokenizer tokenizer, int vocabSize, int limit) throws DataException {
        boolean needsEos = format.equals("prompt_completion") || format.equals("alpaca");
        Long eos = tokenizer.eosId().orElse(null);
        if (needsEos && eos == null) {
            throw new DataException("format " + format + " ends each completion with EOS, but the tokenizer has no eos_token"
                    + (tokenizer.eosToken() == null ? "" : " id for " + tokenizer.eosToken())
                    + "; set eos_token in the model's tokenizer_config.json");
        }
        ChatTemplate chat = null;
        if (format.equals("chat")) {
            chat = ChatTemplate.of(tokenizer).orElseThrow(() -> new DataException(
                    "format chat renders conversations with the model's chat_template, but its tokenizer_config.json has none;"
                            + " use a model with a chat template or convert the data to prompt_completion"));
        }
        return new Encoder(tokenizer, vocabSize, eos == null ? -1 : eos, chat, limit);
    }
}
