package ai.attune.runtime.data;

import ai.attune.api.data.DataException;
import ai.attune.api.data.Example;
import ai.attune.runtime.text.Tokenizer;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * The chat format on a ChatML model built the way Qwen2 ships one: stories260K's tokenizer.json
 * with {@code <|im_start|>} (512) and {@code <|im_end|>} (513) added as special tokens, and a
 * tokenizer_config.json whose chat_template is ChatML and whose eos_token is {@code <|im_end|>}.
 */
class ChatLabelsTest {
    static final long X = Example.IGNORE;
    static final String CHATML = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
            + "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
    static final long IM_START = 512;
    static final long IM_END = 513;

    @TempDir
    Path dir;

    Path chatmlModel() throws IOException {
        return model(CHATML);
    }

    Path model(String chatTemplate) throws IOException {
        ObjectMapper json = new ObjectMapper();
        ObjectNode tok = (ObjectNode) json.readTree(TrainingDataTest.STORIES.resolve("tokenizer.json").toFile());
        ArrayNode added = (ArrayNode) tok.get("added_tokens");
        added.add(json.createObjectNode().put("id", IM_START).put("content", "<|im_start|>").put("single_word", false)
                .put("lstrip", false).put("rstrip", false).put("normalized", false).put("special", true));
        added.add(json.createObjectNode().put("id", IM_END).put("content", "<|im_end|>").put("single_word", false)
                .put("lstrip", false).put("rstrip", false).put("normalized", false).put("special", true));
        Path model = Files.createTempDirectory(dir, "model");
        json.writeValue(model.resolve("tokenizer.json").toFile(), tok);
        ObjectNode cfg = json.createObjectNode().put("add_bos_token", false).put("add_eos_token", false)
                .put("bos_token", "<s>").put("eos_token", "<|im_end|>").put("chat_template", chatTemplate);
        json.writeValue(model.resolve("tokenizer_config.json").toFile(), cfg);
        return model;
    }

    @Test
    void onlyAssistantContentAndItsImEndCarryLabels() throws IOException {
        Path data = dir.resolve("chat.jsonl");
        Files.writeString(data, "{\"messages\": [{\"role\": \"system\", \"content\": \"Be brief.\"}, {\"role\": \"user\", \"content\": \"Hi\"},"
                + " {\"role\": \"assistant\", \"content\": \"Lily\"}, {\"role\": \"user\", \"content\": \"Once upon a time,\"},"
                + " {\"role\": \"assistant\", \"content\": \"there was a little girl named Lily.\"}]}\n");
        try (Tokenizer tok = Tokenizer.load(chatmlModel())) {
            assertEquals(514, tok.vocabSize());
            Example e = TrainingData.load(data, new DataSpec("chat", 512, false, false, null), ShippedFormats.get("chat"), tok, 514, 512).examples().getFirst();

            // The expected sequence, segment by segment: special tokens split the text, and (Metaspace
            // prepend_scheme "first") only the very first segment would get a word-start mark; there is none
            // before the first <|im_start|>, so each segment is encodeRaw of its text minus that mark.
            List<long[]> ids = new ArrayList<>();
            List<long[]> labels = new ArrayList<>();
            part(ids, labels, false, IM_START);
            part(ids, labels, false, segment(tok, "system\nBe brief."));
            part(ids, labels, false, IM_END);
            part(ids, labels, false, segment(tok, "\n"));
            part(ids, labels, false, IM_START);
            part(ids, labels, false, segment(tok, "user\nHi"));
            part(ids, labels, false, IM_END);
            part(ids, labels, false, segment(tok, "\n"));
            part(ids, labels, false, IM_START);
            long[] first = segment(tok, "assistant\nLily");
            long[] header = segment(tok, "assistant\n");
            assertArrayEquals(header, Arrays.copyOf(first, header.length), "the role header tokenizes the same alone");
            part(ids, labels, false, header);
            part(ids, labels, true, Arrays.copyOfRange(first, header.length, first.length)); // "Lily"
            part(ids, labels, true, IM_END);
            part(ids, labels, false, segment(tok, "\n"));
            part(ids, labels, false, IM_START);
            part(ids, labels, false, segment(tok, "user\nOnce upon a time,"));
            part(ids, labels, false, IM_END);
            part(ids, labels, false, segment(tok, "\n"));
            part(ids, labels, false, IM_START);
            long[] second = segment(tok, "assistant\nthere was a little girl named Lily.");
            part(ids, labels, false, header);
            part(ids, labels, true, Arrays.copyOfRange(second, header.length, second.length));
            part(ids, labels, true, IM_END);
            part(ids, labels, false, segment(tok, "\n")); // after the end of turn: not the assistant's to learn

            assertArrayEquals(flat(ids), e.inputIds());
            assertArrayEquals(flat(labels), e.labels());
            // What carries labels, read back: the two replies, each ended by <|im_end|>.
            long[] learned = Arrays.stream(e.labels()).filter(l -> l != X).toArray();
            // "Lily" and "there" right after a newline carry no word-start mark (438 310, 413 260 276); the rest of
            // the second reply is the golden story's " was a little girl named Lily." (286 ... 426).
            assertArrayEquals(new long[] {438, 310, IM_END, 413, 260, 276, 286, 261, 376, 298, 315, 421, 395, 317, 426, IM_END}, learned);
            assertEquals(75, e.length());
            assertEquals(List.of(34, 35, 36), labelled(e.labels()).subList(0, 3));
            assertEquals(73, (int) labelled(e.labels()).getLast(), "the final newline (74) is not learned");
            assertEquals("Lilythere was a little girl named Lily.", tok.decode(Arrays.stream(learned).filter(l -> l != IM_END).toArray()));
            assertEquals(2, Arrays.stream(learned).filter(l -> l == IM_END).count());
            assertEquals(e.lossTokens(), learned.length);
        }
    }

    @Test
    void chatErrorsNameTheRow() throws IOException {
        try (Tokenizer tok = Tokenizer.load(chatmlModel())) {
            assertChatError(tok, "c.jsonl:1: no \"assistant\" message: a chat row trains on assistant turns, and this one has none",
                    "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}]}");
            assertChatError(tok, "c.jsonl:2: messages[1] must be an object with string \"role\" and \"content\"",
                    "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}, {\"role\": \"assistant\", \"content\": \"Lily\"}]}",
                    "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}, {\"role\": \"assistant\"}]}");
        }
    }

    @Test
    void templateExceptionsNameTheRow() throws IOException {
        String strict = "{% if messages[0]['role'] != 'user' %}{{ raise_exception('Conversations must start with a user message') }}{% endif %}"
                + CHATML;
        try (Tokenizer tok = Tokenizer.load(model(strict))) {
            assertChatError(tok, "c.jsonl:2: chat_template: Conversations must start with a user message",
                    "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}, {\"role\": \"assistant\", \"content\": \"Lily\"}]}",
                    "{\"messages\": [{\"role\": \"assistant\", \"content\": \"Lily\"}]}");
        }
    }

    void assertChatError(Tokenizer tok, String expected, String... lines) throws IOException {
        Path data = dir.resolve("c.jsonl");
        Files.writeString(data, String.join("\n", lines) + "\n");
        DataException e = assertThrows(DataException.class,
                () -> TrainingData.load(data, new DataSpec("chat", 512, false, false, null), ShippedFormats.get("chat"), tok, 514, 512));
        assertEquals(expected, e.getMessage());
    }

    /**
     * The tokens of text that follows a special token, as in a rendered chat. encodeRaw(text) alone
     * would mark its start as a word start (Metaspace prepends one to the first segment only).
     */
    static long[] segment(Tokenizer tok, String text) {
        long[] unmarked = tok.encodeRaw("<s>" + text); // after a special token, as in the rendered chat
        return Arrays.copyOfRange(unmarked, 1, unmarked.length);
    }

    static List<Integer> labelled(long[] labels) {
        List<Integer> at = new ArrayList<>();
        for (int t = 0; t < labels.length; t++) {
            if (labels[t] != X) {
                at.add(t);
            }
        }
        return at;
    }

    static void part(List<long[]> ids, List<long[]> labels, boolean learned, long... tokens) {
        ids.add(tokens);
        long[] l = tokens.clone();
        if (!learned) {
            Arrays.fill(l, X);
        }
        labels.add(l);
    }

    static long[] flat(List<long[]> parts) {
        return parts.stream().flatMapToLong(Arrays::stream).toArray();
    }
}
