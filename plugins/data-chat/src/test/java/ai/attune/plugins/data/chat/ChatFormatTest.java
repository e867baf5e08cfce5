package ai.attune.plugins.data.chat;

import ai.attune.api.data.DataException;
import ai.attune.api.data.EncodeContext;
import ai.attune.api.data.Example;
import ai.attune.api.text.ChatRenderer;
import ai.attune.api.text.CharTokenizer;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.LongStream;

import static ai.attune.api.data.TestRows.row;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * Chat rows rendered by {@link CharTokenizer#render} (per message {@code role: content}, {@code </s>}
 * after an assistant's, a newline) and tokenized one id per character, {@code <s>} = 1 and
 * {@code </s>} = 2, so every position below is counted by hand.
 */
class ChatFormatTest {
    static final long X = Example.IGNORE;
    static final String CONVERSATION = "{\"messages\": [{\"role\": \"system\", \"content\": \"Be brief.\"}, {\"role\": \"user\", \"content\": \"Hi\"},"
            + " {\"role\": \"assistant\", \"content\": \"Yo\"}, {\"role\": \"user\", \"content\": \"Bye\"}, {\"role\": \"assistant\", \"content\": \"Ok\"}]}";
    final ChatFormat format = new ChatFormat();

    Example encode(String json, ChatRenderer template, int limit) throws DataException {
        return format.encode(format.parse(row("c.jsonl", 1, json)), new EncodeContext(new CharTokenizer(true, template), 512, limit));
    }

    @Test
    void onlyTheAssistantsContentAndItsEosAreLearned() throws DataException {
        Example e = encode(CONVERSATION, CharTokenizer::render, 512);
        // <s> | system: Be brief.\n (18) | user: Hi\n (9) | assistant: (11) | Yo </s> | \n user: Bye\n (11) | assistant: (11) | Ok </s> | \n
        long[] ids = concat(new long[] {1}, chars("system: Be brief.\nuser: Hi\nassistant: "), chars("Yo"), new long[] {2},
                chars("\nuser: Bye\nassistant: "), chars("Ok"), new long[] {2}, chars("\n"));
        assertArrayEquals(ids, e.inputIds());
        assertEquals(List.of(39, 40, 41, 64, 65, 66), labelled(e), "Y o </s> at 39-41, O k </s> at 64-66; the newlines after are not learned");
        for (int t : labelled(e)) {
            assertEquals(ids[t], e.labels()[t]);
        }
        assertEquals(68, e.length());
    }

    @Test
    void aTurnStartingPastTheLimitIsNotWorkedOut() throws DataException {
        // The second reply starts at 64: with a limit of 60 truncation would cut it, so only the first carries labels.
        Example e = encode(CONVERSATION, CharTokenizer::render, 60);
        assertEquals(List.of(39, 40, 41), labelled(e));
        assertEquals(68, e.length(), "the ids are still the whole conversation's");
    }

    @Test
    void withoutAnEosTheWholeRenderedTurnIsLearned() throws DataException {
        // No </s> in the vocabulary: the turn's span [39, 46) is "Yo</s>\n" as characters, none of them EOS.
        Example e = format.encode(format.parse(row("c.jsonl", 1, "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"},"
                + " {\"role\": \"assistant\", \"content\": \"Yo\"}]}")), new EncodeContext(new CharTokenizer(false, CharTokenizer::render), 512, 512));
        assertEquals(List.of(21, 22, 23, 24, 25, 26, 27), labelled(e));
        assertEquals("Yo</s>\n", new String(Arrays.stream(e.labels()).filter(l -> l != X).mapToObj(l -> String.valueOf((char) l))
                .reduce("", String::concat)));
    }

    @Test
    void theConversationIsWhatDuplicatesAreFoundIn() throws DataException {
        assertEquals("system: Be brief.\nuser: Hi\nassistant: Yo\nuser: Bye\nassistant: Ok", format.parse(row("c.jsonl", 1, CONVERSATION)).text());
    }

    @Test
    void rowsThatCannotTrainNameTheLine() {
        assertError("c.jsonl:1: no \"assistant\" message: a chat row trains on assistant turns, and this one has none",
                "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}]}", CharTokenizer::render);
        assertError("c.jsonl:1: messages[1] must be an object with string \"role\" and \"content\"",
                "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}, {\"role\": \"assistant\"}]}", CharTokenizer::render);
        assertError("c.jsonl:1: missing \"messages\" (an array); the row has text", "{\"text\": \"Hi\"}", CharTokenizer::render);
    }

    @Test
    void theTemplatesOwnRefusalIsTheMessage() {
        ChatRenderer strict = (messages, generationPrompt) -> {
            if (!messages.getFirst().role().equals("user")) {
                throw new IllegalArgumentException("chat_template: Conversations must start with a user message");
            }
            return CharTokenizer.render(messages, generationPrompt);
        };
        assertError("c.jsonl:1: chat_template: Conversations must start with a user message", CONVERSATION, strict);
        ChatRenderer broken = (messages, generationPrompt) -> {
            throw new IllegalStateException("unknown filter 'tojson'");
        };
        assertError("c.jsonl:1: chat_template: unknown filter 'tojson'", CONVERSATION, broken);
    }

    @Test
    void aTemplateWhoseTurnsAreNotPrefixesIsRefused() {
        // The generation prompt opens "assistant> " but the rendered turn reads "assistant: ": the reply cannot be located.
        ChatRenderer inconsistent = (messages, generationPrompt) -> generationPrompt
                ? CharTokenizer.render(messages, false) + "assistant> " : CharTokenizer.render(messages, false);
        assertError("c.jsonl:1: messages[2]: the chat template does not render this turn as a continuation of the conversation before it"
                + " (or its tokens merge across the turn boundary), so its tokens cannot be told apart", CONVERSATION, inconsistent);
    }

    @Test
    void aModelWithoutAChatTemplateIsRefusedBeforeAnyRow() {
        DataException e = assertThrows(DataException.class, () -> format.check(new CharTokenizer()));
        assertEquals("format chat renders conversations with the model's chat_template, but its tokenizer_config.json has none;"
                + " use a model with a chat template or convert the data to prompt_completion", e.getMessage());
    }

    void assertError(String expected, String json, ChatRenderer template) {
        DataException e = assertThrows(DataException.class, () -> encode(json, template, 512));
        assertEquals(expected, e.getMessage());
    }

    static long[] chars(String s) {
        return CharTokenizer.ids(s);
    }

    static long[] concat(long[]... parts) {
        return Arrays.stream(parts).flatMapToLong(LongStream::of).toArray();
    }

    static List<Integer> labelled(Example e) {
        List<Integer> at = new ArrayList<>();
        for (int t = 0; t < e.labels().length; t++) {
            if (e.labels()[t] != X) {
                at.add(t);
            }
        }
        return at;
    }
}
