package ai.attune.runtime.text;

import ai.attune.api.text.ChatMessage;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Chat templates render as apply_chat_template does; expected strings are written out by hand. */
class ChatTemplateTest {
    // The shape of the ChatML template (Qwen2, SmolLM2 instruct): each turn wrapped in <|im_start|>role ... <|im_end|>.
    static final String CHATML = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
            + "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    // The shape of Llama-2-chat's: bos, [INST] ... [/INST] pairs, roles validated with raise_exception.
    static final String LLAMA2 = "{{ bos_token }}{% for message in messages %}"
            + "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
            + "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'].strip() + ' [/INST]' }}"
            + "{% elif message['role'] == 'assistant' %}{{ ' ' + message['content'].strip() + ' ' + eos_token }}{% endif %}{% endfor %}";

    @Test
    void chatmlWithGenerationPrompt() {
        String out = new ChatTemplate(CHATML).render(List.of(new ChatMessage("system", "Be brief."),
                new ChatMessage("user", "Hi")), true, null, null);
        assertEquals("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", out);
    }

    @Test
    void llama2WithSpecialTokens() {
        String out = new ChatTemplate(LLAMA2).render(List.of(new ChatMessage("user", " Hello "),
                new ChatMessage("assistant", "Hi there"), new ChatMessage("user", "Bye")), false, "<s>", "</s>");
        assertEquals("<s>[INST] Hello [/INST] Hi there </s>[INST] Bye [/INST]", out);
    }

    @Test
    void raiseExceptionSurfacesAsAnError() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new ChatTemplate(LLAMA2).render(
                List.of(new ChatMessage("assistant", "first")), false, "<s>", "</s>"));
        assertTrue(e.getMessage().contains("Conversation roles must alternate"), e.getMessage());
    }
}
