package ai.attune.runtime.fuzz;

import ai.attune.api.data.DataException;
import ai.attune.runtime.data.DataInspection;
import ai.attune.runtime.data.DataSpec;
import ai.attune.runtime.data.ShippedFormats;
import ai.attune.runtime.data.TrainingData;
import ai.attune.runtime.text.Tokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Each causal-LM data format's rows, as {@code attune train} loads them (TrainingData.load with
 * the real stories260K tokenizer, ChatML added for chat) and as {@code attune data inspect} checks
 * them. A file inspection refuses must not train, and one that trains must inspect.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class TrainingDataFuzzTest {
    static final Path STORIES = Path.of("../../shared/models/stories260K");
    static final String CHATML = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
            + "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
    static final int VOCAB = 514;
    static final int POSITIONS = 512;

    @TempDir
    static Path dir;

    private final ObjectMapper json = new ObjectMapper();
    private Tokenizer stories;
    private Tokenizer chatml;

    @BeforeAll
    void loadTokenizers() throws Exception {
        stories = Tokenizer.load(STORIES);
        chatml = Tokenizer.load(chatmlModel(Files.createDirectories(dir.resolve("chatml-model"))));
    }

    @AfterAll
    void closeTokenizers() {
        stories.close();
        chatml.close();
    }

    @Test
    void textRows() throws Exception {
        List<JsonNode> rows = rows("{\"text\": \"Once upon a time, there was a little girl named Lily.\"}",
                "{\"text\": \"She loved to play outside in the park.\"}", "{\"text\": \"One day, she saw a big, red ball.\"}");
        jsonl("data-text", 21, "text", rows);
        lines("data-text-csv", 22, "text", "train.csv", "text,source\n\"Once upon a time, there was a girl.\",a\nShe loved the park.,b\n\"One day, \"\"she\"\" saw a ball.\",c\n", ',');
        lines("data-text-txt", 23, "text", "train.txt", "Once upon a time, there was\na little girl named Lily.\n\nShe loved to play outside\nin the park.\n", ' ');
    }

    @Test
    void tokenRows() throws Exception {
        jsonl("data-tokens", 24, "tokens", rows("{\"input_ids\": [1, 403, 407, 261, 378]}", "{\"input_ids\": [1, 383, 286], \"labels\": [-100, 383, 286]}",
                "{\"input_ids\": [1, 376, 298, 315, 421, 2]}"));
        lines("data-tokens-csv", 25, "tokens", "train.csv", "input_ids,labels\n\"[1, 403, 407]\",\"[-100, 403, 407]\"\n\"[1, 261, 378]\",\"[1, 261, 378]\"\n", ',');
    }

    @Test
    void promptCompletionRows() throws Exception {
        jsonl("data-prompt-completion", 26, "prompt_completion", rows("{\"prompt\": \"Once upon a time,\", \"completion\": \" there was a girl.\"}",
                "{\"prompt\": \"Q: Who?\\nA:\", \"completion\": \" Lily\"}", "{\"prompt\": \"\", \"completion\": \"She played.\"}"));
    }

    @Test
    void alpacaRows() throws Exception {
        jsonl("data-alpaca", 27, "alpaca", rows("{\"instruction\": \"Name the girl.\", \"input\": \"There was a girl named Lily.\", \"output\": \"Lily\"}",
                "{\"instruction\": \"Tell a story.\", \"output\": \"Once upon a time,\"}", "{\"instruction\": \"Say hi.\", \"input\": \"\", \"output\": \"Hi\"}"));
    }

    @Test
    void chatRows() throws Exception {
        jsonl("data-chat", 28, "chat", rows(
                "{\"messages\": [{\"role\": \"system\", \"content\": \"Be brief.\"}, {\"role\": \"user\", \"content\": \"Hi\"}, {\"role\": \"assistant\", \"content\": \"Lily\"}]}",
                "{\"messages\": [{\"role\": \"user\", \"content\": \"Once upon a time,\"}, {\"role\": \"assistant\", \"content\": \"there was a girl.\"},"
                        + " {\"role\": \"user\", \"content\": \"And?\"}, {\"role\": \"assistant\", \"content\": \"She played.\"}]}"));
    }

    /** Inputs the fuzzer found (or that took minutes or printed a broken line before the fix). */
    @Test
    void keptCases() throws Exception {
        try (FuzzCampaign c = new FuzzCampaign("data-kept", 0, dir.resolve("data-kept"), DataException.class)) {
            // A CSV header may hold a line break; the message listing the columns used to span two lines.
            Path csv = Files.writeString(dir.resolve("data-kept").resolve("train.csv"), "\"x\ny\",labels\n\"[1, 2]\",\"[1, 2]\"\n");
            String message = c.check(new FuzzCampaign.Case(csv, () -> trainAndInspect(csv, new DataSpec("tokens", 0, false, false, null), stories)));
            assertEquals("train.csv:3: missing \"input_ids\" (an array); the row has x\\ny, labels", message);
            // 2,000 turns: labelling rendered and tokenized the conversation once per assistant turn, over a minute for 160 KB.
            ObjectNode row = json.createObjectNode();
            ArrayNode turns = row.putArray("messages");
            for (int i = 0; i < 1000; i++) {
                turns.addObject().put("role", "user").put("content", "Once upon a time, there was a little girl named Lily.");
                turns.addObject().put("role", "assistant").put("content", "She loved to play outside in the park.");
            }
            Path chat = Files.writeString(dir.resolve("data-kept").resolve("chat.jsonl"), row + "\n");
            assertNull(c.check(new FuzzCampaign.Case(chat, () -> trainAndInspect(chat, new DataSpec("chat", 512, true, false, null), chatml))));
        }
    }

    private void jsonl(String parser, long seed, String format, List<JsonNode> rows) throws Exception {
        run(parser, seed, format, (m, round) -> {
            Path file = round.resolve("train.jsonl");
            Files.write(file, m.jsonLines(rows));
            return file;
        });
    }

    private void lines(String parser, long seed, String format, String name, String text, char separator) throws Exception {
        run(parser, seed, format, (m, round) -> {
            Path file = round.resolve(name);
            Files.write(file, m.lines(text, separator));
            return file;
        });
    }

    interface Input {
        Path write(Mutator m, Path round) throws Exception;
    }

    private void run(String parser, long seed, String format, Input input) throws Exception {
        Tokenizer tok = format.equals("chat") ? chatml : stories;
        // Tokenizing costs microseconds per character (a CJK one with byte fallback is three tokens),
        // and chat rows are tokenized once per turn: strings stay below 100,000 characters here.
        try (FuzzCampaign campaign = new FuzzCampaign(parser, seed, dir.resolve(parser), DataException.class).maxString(100_000)) {
            FuzzCampaign.Totals t = campaign.run(FuzzCampaign.rounds(150), (m, round) -> {
                Path file = input.write(m, round);
                DataSpec spec = new DataSpec(format, m.pick(0, 0, 8, 64, POSITIONS, Integer.MAX_VALUE), m.random().nextBoolean(), m.random().nextBoolean(), null);
                return new FuzzCampaign.Case(file, () -> trainAndInspect(file, spec, tok));
            });
            FuzzCampaign.assertBothOutcomes(t, 0.1, 0.2);
        }
    }

    /** Loads as training does and inspects as {@code attune data inspect} does; the two must agree on what is malformed. */
    private static void trainAndInspect(Path file, DataSpec spec, Tokenizer tok) throws Exception {
        DataException inspectRefused = null;
        try {
            DataInspection.of(file, spec.format(), ShippedFormats.get(spec.format()), tok, VOCAB, spec.limit(POSITIONS)).lines();
        } catch (DataException e) {
            inspectRefused = e;
        }
        TrainingData data;
        try {
            data = TrainingData.load(file, spec, ShippedFormats.get(spec.format()), tok, VOCAB, POSITIONS);
        } catch (DataException e) {
            if (inspectRefused != null) {
                throw inspectRefused;
            }
            throw e;
        }
        if (inspectRefused != null) {
            throw new AssertionError("training accepted what inspect refused: " + inspectRefused.getMessage());
        }
        assertTrue(!data.examples().isEmpty() && data.examples().stream().allMatch(e -> e.length() <= spec.limit(POSITIONS)));
    }

    private List<JsonNode> rows(String... lines) throws Exception {
        List<JsonNode> out = new ArrayList<>();
        for (String l : lines) {
            out.add(json.readTree(l));
        }
        return out;
    }

    /** stories260K's tokenizer with ChatML's two special tokens and template, as Qwen2 ships one. */
    private Path chatmlModel(Path model) throws Exception {
        ObjectNode tok = (ObjectNode) json.readTree(STORIES.resolve("tokenizer.json").toFile());
        ArrayNode added = (ArrayNode) tok.get("added_tokens");
        for (String[] t : new String[][] {{"512", "<|im_start|>"}, {"513", "<|im_end|>"}}) {
            added.add(json.createObjectNode().put("id", Integer.parseInt(t[0])).put("content", t[1]).put("single_word", false)
                    .put("lstrip", false).put("rstrip", false).put("normalized", false).put("special", true));
        }
        json.writeValue(model.resolve("tokenizer.json").toFile(), tok);
        json.writeValue(model.resolve("tokenizer_config.json").toFile(), json.createObjectNode().put("add_bos_token", false)
                .put("add_eos_token", false).put("bos_token", "<s>").put("eos_token", "<|im_end|>").put("chat_template", CHATML));
        return model;
    }
}
