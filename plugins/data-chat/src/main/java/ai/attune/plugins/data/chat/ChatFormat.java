package ai.attune.plugins.data.chat;

import ai.attune.api.data.DataException;
import ai.attune.api.data.EncodeContext;
import ai.attune.api.data.Example;
import ai.attune.api.data.Row;
import ai.attune.api.data.Sample;
import ai.attune.api.spi.DataFormat;
import ai.attune.api.text.ChatMessage;
import ai.attune.api.text.TextTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import org.osgi.service.component.annotations.Component;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

/**
 * {@code format: chat}: a conversation in OpenAI/TRL messages form ({@code messages}: objects with
 * {@code role} and {@code content}), rendered with the model's chat template, with loss on the
 * assistant turns only ({@link ChatLabels}).
 */
@Component(service = DataFormat.class, property = DataFormat.PROPERTY + "=chat")
public final class ChatFormat implements DataFormat<ChatFormat.Chat> {
    /** A row's conversation. */
    public record Chat(Row row, List<ChatMessage> messages) implements Sample {
        @Override
        public String text() {
            return messages.stream().map(m -> m.role() + ": " + m.content()).collect(Collectors.joining("\n"));
        }
    }

    @Override
    public Chat parse(Row row) throws DataException {
        JsonNode a = row.array("messages");
        List<ChatMessage> out = new ArrayList<>();
        for (int i = 0; i < a.size(); i++) {
            JsonNode m = a.get(i);
            JsonNode role = m.get("role");
            JsonNode content = m.get("content");
            if (!m.isObject() || role == null || !role.isTextual() || content == null || !content.isTextual()) {
                throw row.error("messages[" + i + "] must be an object with string \"role\" and \"content\"");
            }
            out.add(new ChatMessage(role.asText(), content.asText()));
        }
        return new Chat(row, List.copyOf(out));
    }

    @Override
    public void check(TextTokenizer tokenizer) throws DataException {
        if (tokenizer.chatTemplate().isEmpty()) {
            throw new DataException("format chat renders conversations with the model's chat_template, but its tokenizer_config.json has none;"
                    + " use a model with a chat template or convert the data to prompt_completion");
        }
    }

    @Override
    public Example encode(Chat sample, EncodeContext context) throws DataException {
        return ChatLabels.tokenize(sample, context);
    }
}
