package ai.attune.runtime.data;

import ai.attune.api.data.DataException;
import ai.attune.api.data.EncodeContext;
import ai.attune.api.data.Example;
import ai.attune.api.data.Row;
import ai.attune.api.data.Sample;
import ai.attune.api.spi.DataFormat;

import java.util.Arrays;

/**
 * A data format that no shipped plugin provides, written as a third party would: {@code question}
 * and {@code answer}, the question tokenized with BOS and the answer after it, loss on the answer
 * only and, unlike prompt_completion, no EOS.
 */
public final class QaFormat implements DataFormat<QaFormat.Qa> {
    public record Qa(Row row, String question, String answer) implements Sample {
        @Override
        public String text() {
            return question + "\n" + answer;
        }
    }

    @Override
    public Qa parse(Row row) throws DataException {
        return new Qa(row, row.string("question"), row.string("answer"));
    }

    @Override
    public Example encode(Qa sample, EncodeContext context) {
        long[] q = context.tokenizer().encode(sample.question());
        long[] a = context.tokenizer().encodeRaw(sample.answer());
        long[] ids = Arrays.copyOf(q, q.length + a.length);
        System.arraycopy(a, 0, ids, q.length, a.length);
        long[] labels = ids.clone();
        Arrays.fill(labels, 0, q.length, Example.IGNORE);
        return new Example(ids, labels);
    }
}
