package ai.attune.plugins.data.instruct;

import ai.attune.api.data.DataException;
import ai.attune.api.data.EncodeContext;
import ai.attune.api.data.Example;
import ai.attune.api.data.Row;
import ai.attune.api.data.Sample;
import ai.attune.api.spi.DataFormat;
import ai.attune.api.text.TextTokenizer;
import org.osgi.service.component.annotations.Component;

/**
 * {@code format: alpaca}: Stanford Alpaca's instruction data ({@code instruction}, optional
 * {@code input}, {@code output}), written into Alpaca's prompt and trained as a prompt-completion
 * row: loss on the output and its EOS.
 */
@Component(service = DataFormat.class, property = DataFormat.PROPERTY + "=alpaca")
public final class AlpacaFormat implements DataFormat<AlpacaFormat.Alpaca> {
    // The two prompts of tatsu-lab/stanford_alpaca train.py, word for word.
    static final String PROMPT_INPUT = "Below is an instruction that describes a task, paired with an input that provides further context. "
            + "Write a response that appropriately completes the request.\n\n### Instruction:\n%s\n\n### Input:\n%s\n\n### Response:\n";
    static final String PROMPT_NO_INPUT = "Below is an instruction that describes a task. "
            + "Write a response that appropriately completes the request.\n\n### Instruction:\n%s\n\n### Response:\n";

    /** A row's instruction, input (empty when absent) and output. */
    public record Alpaca(Row row, String instruction, String input, String output) implements Sample {
        /** The prompt, with the no-input variant when input is empty (as Alpaca's own code chooses). */
        String prompt() {
            return input.isEmpty() ? PROMPT_NO_INPUT.formatted(instruction) : PROMPT_INPUT.formatted(instruction, input);
        }

        @Override
        public String text() {
            return instruction + "\n" + input + "\n" + output;
        }
    }

    @Override
    public Alpaca parse(Row row) throws DataException {
        return new Alpaca(row, row.string("instruction"), row.optionalString("input").orElse(""), row.string("output"));
    }

    @Override
    public void check(TextTokenizer tokenizer) throws DataException {
        PromptCompletionFormat.requireEos("alpaca", tokenizer);
    }

    @Override
    public Example encode(Alpaca sample, EncodeContext context) {
        return PromptCompletionFormat.encode(sample.prompt(), sample.output(), context.tokenizer());
    }
}
