package ai.attune.plugins.data.instruct;

import ai.attune.api.data.DataException;
import ai.attune.api.data.EncodeContext;
import ai.attune.api.data.Example;
import ai.attune.api.data.Row;
import ai.attune.api.data.Sample;
import ai.attune.api.spi.DataFormat;
import ai.attune.api.text.TextTokenizer;
import org.osgi.service.component.annotations.Component;

import java.util.Arrays;

/**
 * {@code format: prompt_completion}: TRL's prompt-completion rows, {@code prompt} and
 * {@code completion}, with loss on the completion and the EOS that ends it, not on the prompt.
 */
@Component(service = DataFormat.class, property = DataFormat.PROPERTY + "=prompt_completion")
public final class PromptCompletionFormat implements DataFormat<PromptCompletionFormat.PromptCompletion> {
    /** A row's prompt and completion. */
    public record PromptCompletion(Row row, String prompt, String completion) implements Sample {
        @Override
        public String text() {
            return prompt + "\n" + completion;
        }
    }

    @Override
    public PromptCompletion parse(Row row) throws DataException {
        return new PromptCompletion(row, row.string("prompt"), row.string("completion"));
    }

    @Override
    public void check(TextTokenizer tokenizer) throws DataException {
        requireEos("prompt_completion", tokenizer);
    }

    @Override
    public Example encode(PromptCompletion sample, EncodeContext context) {
        return encode(sample.prompt(), sample.completion(), context.tokenizer());
    }

    /** A format that ends completions with EOS cannot train a model whose tokenizer has none. */
    static void requireEos(String format, TextTokenizer tokenizer) throws DataException {
        if (tokenizer.eosId().isEmpty()) {
            throw new DataException("format " + format + " ends each completion with EOS, but the tokenizer has no eos_token"
                    + (tokenizer.eosToken() == null ? "" : " id for " + tokenizer.eosToken())
                    + "; set eos_token in the model's tokenizer_config.json");
        }
    }

    /**
     * {@code prompt} then {@code completion} then EOS, labels on the completion and EOS. The two are
     * tokenized apart so the boundary is exact; the prompt gets BOS as the tokenizer config says.
     */
    static Example encode(String prompt, String completion, TextTokenizer tokenizer) {
        long[] p = tokenizer.encode(prompt);
        long[] c = tokenizer.encodeRaw(completion);
        long[] ids = new long[p.length + c.length + 1];
        long[] labels = new long[ids.length];
        System.arraycopy(p, 0, ids, 0, p.length);
        System.arraycopy(c, 0, ids, p.length, c.length);
        ids[ids.length - 1] = tokenizer.eosId().orElseThrow(); // present: check ran before any row
        Arrays.fill(labels, 0, p.length, Example.IGNORE);
        System.arraycopy(ids, p.length, labels, p.length, c.length + 1);
        return new Example(ids, labels);
    }
}
