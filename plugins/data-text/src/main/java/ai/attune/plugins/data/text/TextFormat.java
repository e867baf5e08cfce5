package ai.attune.plugins.data.text;

import ai.attune.api.data.DataException;
import ai.attune.api.data.EncodeContext;
import ai.attune.api.data.Example;
import ai.attune.api.data.Row;
import ai.attune.api.data.Sample;
import ai.attune.api.spi.DataFormat;
import org.osgi.service.component.annotations.Component;

/**
 * {@code format: text}: a {@code text} field (a JSONL or CSV column, or a paragraph of a .txt file)
 * with loss on every token and no EOS appended, as Hugging Face's causal-LM text training; the
 * tokenizer adds BOS where its config says so.
 */
@Component(service = DataFormat.class, property = DataFormat.PROPERTY + "=text")
public final class TextFormat implements DataFormat<TextFormat.Text> {
    /** A row's text. */
    public record Text(Row row, String text) implements Sample {}

    @Override
    public Text parse(Row row) throws DataException {
        return new Text(row, row.string("text"));
    }

    @Override
    public Example encode(Text sample, EncodeContext context) {
        long[] ids = context.tokenizer().encode(sample.text());
        return new Example(ids, ids.clone());
    }
}
