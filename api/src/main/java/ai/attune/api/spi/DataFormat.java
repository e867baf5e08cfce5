package ai.attune.api.spi;

import ai.attune.api.data.DataException;
import ai.attune.api.data.EncodeContext;
import ai.attune.api.data.Example;
import ai.attune.api.data.Row;
import ai.attune.api.data.Sample;
import ai.attune.api.text.TextTokenizer;

/**
 * A language-model training data format ({@code text}, {@code chat}, ...), registered with
 * {@code attune.data.format=<name>} and chosen by a recipe's {@code data.format}. The runtime reads
 * the file into {@link Row}s (JSONL, CSV, ARFF, paragraphs of text); the format says what a row
 * holds and which of its tokens the model learns. Loading goes in three steps, so that a file is
 * checked without a model and a model that cannot serve the format fails before any row is read:
 * {@link #parse} every row, {@link #check} the tokenizer once, then {@link #encode} each sample.
 *
 * @param <S> the format's parsed row
 */
public interface DataFormat<S extends Sample> {
    String PROPERTY = "attune.data.format";

    /**
     * The row's fields, checked. Needs no tokenizer, so {@code attune data inspect} validates a file
     * without a model; a problem is {@link Row#error}.
     */
    S parse(Row row) throws DataException;

    /**
     * What the format needs of the model's tokenizer (an EOS to end completions, a chat template),
     * checked once before any row is encoded; a missing piece is one line saying what to do.
     */
    default void check(TextTokenizer tokenizer) throws DataException {
    }

    /**
     * The sample's token ids and labels ({@link Example#IGNORE} where there is no loss), before any
     * length limit. A problem only the model reveals (an id outside its vocabulary, a template that
     * cannot render the conversation) is {@code sample.row().error(...)}.
     */
    Example encode(S sample, EncodeContext context) throws DataException;
}
