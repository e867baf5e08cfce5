package ai.attune.runtime.data;

import ai.attune.runtime.text.ChatTemplate;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

/**
 * A row read in one of the causal-LM formats, its fields checked. Checking needs no tokenizer, so
 * {@code attune data inspect} can validate a file without a model.
 */
sealed interface Sample {
    Row row();

    /** What the row says, as plain text: compared by duplicate detection, blank for an empty row. */
    String text();

    /** Tokens and labels, before any length limit. */
    Example tokenize(Encoder encoder) throws DataException;

    static Sample parse(String format, Row row, ObjectMapper json) throws DataException {
        return switch (format) {
            case "tokens" -> Tokens.parse(row, json);
            case "text" -> new Text(row, row.string("text"));
            case "prompt_completion" -> new PromptCompletion(row, row.string("prompt"), row.string("completion"));
            case "alpaca" -> Alpaca.parse(row);
            case "chat" -> Chat.parse(row, json);
            default -> throw new IllegalArgumentException("not a causal-LM data format: " + format);
        };
    }

    /** Pre-tokenized ids; labels default to the ids. */
    record Tokens(Row row, long[] ids, long[] labels) implements Sample {
        static Tokens parse(Row row, ObjectMapper json) throws DataException {
            long[] ids = ints(row, "input_ids", row.array("input_ids", json));
            JsonNode l = row.optionalArray("labels", json);
            long[] labels = l == null ? ids.clone() : ints(row, "labels", l);
            if (labels.length != ids.length) {
                throw row.error("\"labels\" has " + labels.length + " entries but \"input_ids\" has " + ids.length + "; they must align");
            }
            return new Tokens(row, ids, labels);
        }

        private static long[] ints(Row row, String name, JsonNode a) throws DataException {
            long[] out = new long[a.size()];
            for (int i = 0; i < out.length; i++) {
                JsonNode v = a.get(i);
                if (!v.isIntegralNumber() || !v.canConvertToLong()) {
                    throw row.error(name + "[" + i + "] is " + Row.kind(v) + "; token ids are integers");
                }
                out[i] = v.asLong();
            }
            return out;
        }

        @Override
        public String text() {
            return java.util.Arrays.stream(ids).mapToObj(Long::toString).collect(Collectors.joining(" "));
        }

        @Override
        public Example tokenize(Encoder encoder) throws DataException {
            int vocab = encoder.vocabSize();
            for (int i = 0; i < ids.length; i++) {
                if (ids[i] < 0 || ids[i] >= vocab) {
                    throw row.error("input_ids[" + i + "] = " + ids[i] + " is not a token id in [0, " + vocab + ")");
                }
                if (labels[i] != Example.IGNORE && (labels[i] < 0 || labels[i] >= vocab)) {
                    throw row.error("labels[" + i + "] = " + labels[i] + " is neither -100 (no loss) nor a token id in [0, " + vocab + ")");
                }
            }
            return new Example(ids.clone(), labels.clone());
        }
    }

    /** Plain text: loss on every token, no EOS appended (as HF's causal-LM text training). */
    record Text(Row row, String text) implements Sample {
        @Override
        public Example tokenize(Encoder encoder) {
            long[] ids = encoder.tokenizer().encode(text);
            return new Example(ids, ids.clone());
        }
    }

    /** TRL's prompt-completion: loss on the completion and the EOS that ends it, not on the prompt. */
    record PromptCompletion(Row row, String prompt, String completion) implements Sample {
        @Override
        public String text() {
            return prompt + "\n" + completion;
        }

        @Override
        public Example tokenize(Encoder encoder) throws DataException {
            // Tokenized apart so the boundary is exact; the prompt gets BOS per the tokenizer config.
            long[] p = encoder.tokenizer().encode(prompt);
            long[] c = encoder.tokenizer().encodeRaw(completion);
            long[] ids = new long[p.length + c.length + 1];
            long[] labels = new long[ids.length];
            System.arraycopy(p, 0, ids, 0, p.length);
            System.arraycopy(c, 0, ids, p.length, c.length);
            ids[ids.length - 1] = encoder.eosId();
            java.util.Arrays.fill(labels, 0, p.length, Example.IGNORE);
            System.arraycopy(ids, p.length, labels, p.length, c.length + 1);
            return new Example(ids, labels);
        }
    }

    /** Stanford Alpaca's instruction data: its prompt, then the output as the completion. */
    record Alpaca(Row row, String instruction, String input, String output) implements Sample {
        // The two prompts of tatsu-lab/stanford_alpaca train.py, word for word.
        static final String PROMPT_INPUT = "Below is an instruction that describes a task, paired with an input that provides further context. "
                + "Write a response that appropriately completes the request.\n\n### Instruction:\n%s\n\n### Input:\n%s\n\n### Response:\n";
        static final String PROMPT_NO_INPUT = "Below is an instruction that describes a task. "
                + "Write a response that appropriately completes the request.\n\n### Instruction:\n%s\n\n### Response:\n";

        static Alpaca parse(Row row) throws DataException {
            return new Alpaca(row, row.string("instruction"), row.optionalString("input").orElse(""), row.string("output"));
        }

        /** The prompt, with the no-input variant when input is empty (as Alpaca's own code chooses). */
        String prompt() {
            return input.isEmpty() ? PROMPT_NO_INPUT.formatted(instruction) : PROMPT_INPUT.formatted(instruction, input);
        }

        @Override
        public String text() {
            return instruction + "\n" + input + "\n" + output;
        }

        @Override
        public Example tokenize(Encoder encoder) throws DataException {
            return new PromptCompletion(row, prompt(), output).tokenize(encoder);
        }
    }

    /** A conversation in OpenAI/TRL messages form; loss on the assistant turns. */
    record Chat(Row row, List<ChatTemplate.Message> messages) implements Sample {
        static Chat parse(Row row, ObjectMapper json) throws DataException {
            JsonNode a = row.array("messages", json);
            List<ChatTemplate.Message> out = new ArrayList<>();
            for (int i = 0; i < a.size(); i++) {
                JsonNode m = a.get(i);
                JsonNode role = m.get("role");
                JsonNode content = m.get("content");
                if (!m.isObject() || role == null || !role.isTextual() || content == null || !content.isTextual()) {
                    throw row.error("messages[" + i + "] must be an object with string \"role\" and \"content\"");
                }
                out.add(new ChatTemplate.Message(role.asText(), content.asText()));
            }
            return new Chat(row, List.copyOf(out));
        }

        @Override
        public String text() {
            return messages.stream().map(m -> m.role() + ": " + m.content()).collect(Collectors.joining("\n"));
        }

        @Override
        public Example tokenize(Encoder encoder) throws DataException {
            return ChatLabels.tokenize(this, encoder);
        }
    }
}
