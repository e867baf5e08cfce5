package ai.attune.runtime.text;

import ai.attune.api.text.ChatMessage;
import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A tokenizer's Jinja {@code chat_template}, rendered with Jinjava the way
 * {@code apply_chat_template} renders it: {@code messages}, {@code add_generation_prompt},
 * {@code bos_token}, {@code eos_token}, and {@code raise_exception} for templates that validate roles.
 */
public final class ChatTemplate {
    private final String template;
    private final Jinjava jinja;

    public ChatTemplate(String template) {
        this.template = template;
        this.jinja = new Jinjava(JinjavaConfig.newBuilder().withTrimBlocks(false).withLstripBlocks(false).build());
        jinja.getGlobalContext().registerFunction(new com.hubspot.jinjava.lib.fn.ELFunctionDefinition(
                "", "raise_exception", ChatTemplate.class, "raiseException", String.class));
    }

    /** The template of a tokenizer, if its config has one. */
    public static java.util.Optional<ChatTemplate> of(Tokenizer tokenizer) {
        var node = tokenizer.config().get("chat_template");
        return node == null || !node.isTextual() ? java.util.Optional.empty() : java.util.Optional.of(new ChatTemplate(node.asText()));
    }

    public String render(List<ChatMessage> messages, boolean addGenerationPrompt, String bosToken, String eosToken) {
        Map<String, Object> ctx = new HashMap<>();
        ctx.put("messages", messages.stream().map(m -> Map.of("role", m.role(), "content", m.content())).toList());
        ctx.put("add_generation_prompt", addGenerationPrompt);
        ctx.put("bos_token", bosToken == null ? "" : bosToken);
        ctx.put("eos_token", eosToken == null ? "" : eosToken);
        RenderResult r = jinja.renderForResult(template, ctx);
        for (TemplateError e : r.getErrors()) {
            if (e.getSeverity() == TemplateError.ErrorType.FATAL) {
                throw new IllegalArgumentException("chat_template: " + rootMessage(e));
            }
        }
        return r.getOutput();
    }

    /** The template's own words when it called raise_exception, else Jinjava's message. */
    private static String rootMessage(TemplateError e) {
        Throwable t = e.getException();
        while (t != null && t.getCause() != null) {
            t = t.getCause();
        }
        if (t instanceof IllegalArgumentException && t.getMessage() != null && t.getMessage().startsWith("chat_template: ")) {
            return t.getMessage().substring("chat_template: ".length());
        }
        return e.getMessage();
    }

    /** {@code raise_exception(msg)} inside a template. */
    public static String raiseException(String message) {
        throw new IllegalArgumentException("chat_template: " + message);
    }

}
