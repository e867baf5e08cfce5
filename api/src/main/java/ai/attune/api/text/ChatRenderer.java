package ai.attune.api.text;

import java.util.List;

/**
 * A tokenizer's Jinja {@code chat_template}, rendered as {@code apply_chat_template(messages,
 * tokenize=False, add_generation_prompt=...)} renders it, with the tokenizer's {@code bos_token}
 * and {@code eos_token}.
 */
@FunctionalInterface
public interface ChatRenderer {
    /**
     * The conversation as text, special tokens written out as the template writes them.
     *
     * @param addGenerationPrompt open an assistant turn at the end (where a reply would start)
     * @throws IllegalArgumentException when the template fails, in one line beginning
     *                                  {@code "chat_template: "}: the template's own words where it
     *                                  called {@code raise_exception} (e.g. roles must alternate)
     */
    String render(List<ChatMessage> messages, boolean addGenerationPrompt);
}
