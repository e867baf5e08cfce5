package ai.attune.api.text;

import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * A tokenizer whose ids a test works out by hand: one id per character (its UTF-16 code), with the
 * special tokens {@code <s>} (1) and {@code </s>} (2) read as one id where the text writes them,
 * as a rendered chat template does; {@link #encode} puts BOS in front, as Llama's config asks.
 * For data formats' tests, which cannot load a real tokenizer (that is the runtime's).
 */
public final class CharTokenizer implements TextTokenizer {
    public static final long BOS = 1;
    public static final long EOS = 2;
    static final String BOS_TOKEN = "<s>";
    static final String EOS_TOKEN = "</s>";

    private final boolean hasEos;
    private final ChatRenderer chatTemplate;

    /** With EOS and without a chat template. */
    public CharTokenizer() {
        this(true, null);
    }

    /**
     * @param hasEos       false for a tokenizer whose config names {@code </s>} as eos_token but
     *                     whose vocabulary lacks it (then {@code </s>} is five characters)
     * @param chatTemplate the chat template, or null for none
     */
    public CharTokenizer(boolean hasEos, ChatRenderer chatTemplate) {
        this.hasEos = hasEos;
        this.chatTemplate = chatTemplate;
    }

    /** The ids of {@code text}, character by character, as a test writes them out: {@code ids("Hi")} is {@code [72, 105]}. */
    public static long[] ids(String text) {
        return text.chars().asLongStream().toArray();
    }

    @Override
    public int vocabSize() {
        return Character.MAX_VALUE + 1;
    }

    @Override
    public long[] encode(String text) {
        long[] raw = encodeRaw(text);
        long[] out = new long[raw.length + 1];
        out[0] = BOS;
        System.arraycopy(raw, 0, out, 1, raw.length);
        return out;
    }

    @Override
    public long[] encodeRaw(String text) {
        long[] out = new long[text.length()];
        int n = 0;
        for (int i = 0; i < text.length(); ) {
            if (text.startsWith(BOS_TOKEN, i)) {
                out[n++] = BOS;
                i += BOS_TOKEN.length();
            } else if (hasEos && text.startsWith(EOS_TOKEN, i)) {
                out[n++] = EOS;
                i += EOS_TOKEN.length();
            } else {
                out[n++] = text.charAt(i++);
            }
        }
        return Arrays.copyOf(out, n);
    }

    @Override
    public String decode(long[] ids) {
        StringBuilder b = new StringBuilder();
        for (long id : ids) {
            if (id != BOS && id != EOS) {
                b.append((char) id);
            }
        }
        return b.toString();
    }

    @Override
    public Optional<Long> bosId() {
        return Optional.of(BOS);
    }

    @Override
    public Optional<Long> eosId() {
        return hasEos ? Optional.of(EOS) : Optional.empty();
    }

    @Override
    public String eosToken() {
        return EOS_TOKEN;
    }

    @Override
    public Optional<ChatRenderer> chatTemplate() {
        return Optional.ofNullable(chatTemplate);
    }

    /**
     * A chat template in the style of Llama 2's, small enough to render by hand: {@code <s>}, then
     * per message {@code role: content}, {@code </s>} after an assistant's, and a newline; the
     * generation prompt is {@code "assistant: "}.
     */
    public static String render(List<ChatMessage> messages, boolean addGenerationPrompt) {
        StringBuilder b = new StringBuilder(BOS_TOKEN);
        for (ChatMessage m : messages) {
            b.append(m.role()).append(": ").append(m.content()).append(m.role().equals("assistant") ? EOS_TOKEN : "").append('\n');
        }
        return addGenerationPrompt ? b.append("assistant: ").toString() : b.toString();
    }
}
