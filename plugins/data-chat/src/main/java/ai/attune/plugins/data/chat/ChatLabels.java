package ai.attune.plugins.data.chat;

import ai.attune.api.data.DataException;
import ai.attune.api.data.EncodeContext;
import ai.attune.api.data.Example;
import ai.attune.api.text.ChatMessage;
import ai.attune.api.text.ChatRenderer;
import ai.attune.api.text.TextTokenizer;

import java.util.Arrays;
import java.util.List;

/**
 * Tokenizes a conversation with the model's chat template and puts labels on the assistant turns
 * only. A turn's tokens are found by rendering the conversation up to it with the generation prompt
 * (where the assistant starts) and up to its end (where it stops), and tokenizing those prefixes:
 * it works for any template, with no per-template markers. The span keeps the template's
 * end-of-turn token (EOS, so the model learns to stop) and drops what the template writes after
 * it, such as ChatML's newline.
 *
 * <p>Each turn renders and tokenizes the conversation up to it, which is quadratic in the number
 * of turns; turns that start past the length limit are not looked at, since truncation would cut
 * their labels anyway (a 2,000-turn row took over a minute before).
 */
final class ChatLabels {
    private ChatLabels() {}

    static Example tokenize(ChatFormat.Chat chat, EncodeContext context) throws DataException {
        List<ChatMessage> messages = chat.messages();
        TextTokenizer tok = context.tokenizer();
        ChatRenderer template = tok.chatTemplate().orElseThrow(); // present: ChatFormat.check ran before any row
        long eosId = tok.eosId().orElse(-1L);
        // The template writes the special tokens itself (bos_token etc.), so nothing is added here.
        long[] ids = tok.encodeRaw(render(chat, template, messages, false));
        long[] labels = new long[ids.length];
        Arrays.fill(labels, Example.IGNORE);
        boolean anyAssistant = false;
        for (int i = 0; i < messages.size(); i++) {
            if (!messages.get(i).role().equals("assistant")) {
                continue;
            }
            anyAssistant = true;
            long[] before = tok.encodeRaw(render(chat, template, messages.subList(0, i), true));
            if (before.length >= context.limit()) {
                break; // this turn and every later one start past the limit: truncation drops their labels
            }
            long[] through = tok.encodeRaw(render(chat, template, messages.subList(0, i + 1), false));
            if (!isPrefix(before, through) || !isPrefix(through, ids)) {
                throw chat.row().error("messages[" + i + "]: the chat template does not render this turn as a continuation of the"
                        + " conversation before it (or its tokens merge across the turn boundary), so its tokens cannot be told apart");
            }
            int end = endOfTurn(ids, before.length, through.length, eosId);
            System.arraycopy(ids, before.length, labels, before.length, end - before.length);
        }
        if (!anyAssistant) {
            throw chat.row().error("no \"assistant\" message: a chat row trains on assistant turns, and this one has none");
        }
        return new Example(ids, labels);
    }

    private static String render(ChatFormat.Chat chat, ChatRenderer template, List<ChatMessage> messages, boolean generationPrompt)
            throws DataException {
        try {
            return template.render(messages, generationPrompt);
        } catch (RuntimeException e) {
            // The template's own raise_exception (e.g. roles must alternate) is the most useful message.
            String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage().lines().findFirst().orElse("");
            throw chat.row().error(m.startsWith("chat_template") ? m : "chat_template: " + m);
        }
    }

    /** End (exclusive) of the labelled part of [start, stop): through the last EOS in it, else all of it. */
    static int endOfTurn(long[] ids, int start, int stop, long eosId) {
        for (int t = stop - 1; t >= start; t--) {
            if (ids[t] == eosId) {
                return t + 1;
            }
        }
        return stop;
    }

    private static boolean isPrefix(long[] prefix, long[] of) {
        return prefix.length <= of.length && Arrays.equals(prefix, 0, prefix.length, of, 0, prefix.length);
    }
}
