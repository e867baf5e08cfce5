package ai.attune.runtime.data;

import ai.attune.api.data.DataException;
import ai.attune.api.data.EncodeContext;
import ai.attune.api.data.Example;
import ai.attune.api.data.Row;
import ai.attune.api.data.Sample;
import ai.attune.api.spi.DataFormat;
import ai.attune.api.text.TextTokenizer;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A causal-LM training set: its examples, and what loading changed (empty rows skipped, duplicates
 * removed, rows truncated), one line each, for the run's log.
 */
public record TrainingData(List<Example> examples, List<String> log) {
    public TrainingData {
        examples = List.copyOf(examples);
        log = List.copyOf(log);
    }

    /**
     * Reads, checks and tokenizes {@code file} (.jsonl, .csv, .arff or .txt) in {@code format}, the
     * installed format that {@code spec.format()} names ({@link DataFormats#find}). Every malformed
     * row is a {@link DataException} naming {@code file:line}.
     *
     * @param vocabSize         the model's vocabulary size (pre-tokenized ids must lie below it)
     * @param modelMaxPositions the model's position limit, which caps {@code spec.maxSeqLen()}
     */
    public static TrainingData load(Path file, DataSpec spec, DataFormat<Sample> format, TextTokenizer tokenizer, int vocabSize,
                                    int modelMaxPositions) throws IOException {
        if (modelMaxPositions <= 0 || vocabSize <= 0) {
            throw new IllegalArgumentException("the model's vocabulary size and positions must be positive, not " + vocabSize + " and " + modelMaxPositions);
        }
        int limit = spec.limit(modelMaxPositions);
        format.check(tokenizer);
        EncodeContext context = new EncodeContext(tokenizer, vocabSize, limit);
        String name = DataException.fileName(file);
        List<String> log = new ArrayList<>();
        List<Row> rows = new RowReader().read(file);
        log.add("read " + Duplicates.plural(rows.size(), "row") + " from " + name + " (format " + spec.format() + ")");

        List<Sample> samples = new ArrayList<>();
        List<Integer> empty = new ArrayList<>();
        for (Row row : rows) {
            Sample s = format.parse(row);
            if (Duplicates.normalize(s.text()).isEmpty()) {
                empty.add(row.line());
            } else {
                samples.add(s);
            }
        }
        if (!empty.isEmpty()) {
            log.add("skipped " + Duplicates.plural(empty.size(), "empty row") + " (" + lines(empty) + ")");
        }

        List<Duplicates.Verdict> verdicts = Duplicates.find(samples.stream().map(Sample::text).toList());
        log.add(Duplicates.summary(verdicts, i -> samples.get(i).row().line(), spec.dedup()));

        List<Example> examples = new ArrayList<>();
        List<Integer> truncated = new ArrayList<>();
        List<Integer> noLoss = new ArrayList<>();
        long tokens = 0;
        long lossTokens = 0;
        for (int i = 0; i < samples.size(); i++) {
            if (spec.dedup() && verdicts.get(i).duplicate()) {
                continue;
            }
            Sample s = samples.get(i);
            Example e = format.encode(s, context);
            if (e.length() > limit) {
                if (!spec.truncate()) {
                    throw s.row().error(e.length() + " tokens exceed the limit of " + limit + " (" + limitSource(spec, modelMaxPositions)
                            + "); shorten the row, raise data.max_seq_len, or set data.truncate: true");
                }
                e = e.head(limit);
                truncated.add(s.row().line());
            }
            // A row whose every target was cut off (or masked) would only add zeros to the loss's denominator.
            if (e.lossTokens() == 0) {
                noLoss.add(s.row().line());
                continue;
            }
            examples.add(e);
            tokens += e.length();
            lossTokens += e.lossTokens();
        }
        if (!truncated.isEmpty()) {
            log.add("truncated " + Duplicates.plural(truncated.size(), "row") + " to " + limit + " tokens (" + lines(truncated) + ")");
        }
        if (!noLoss.isEmpty()) {
            log.add("dropped " + Duplicates.plural(noLoss.size(), "row") + " with no token to learn from (all labels -100"
                    + (truncated.isEmpty() ? "" : " after truncation") + "; " + lines(noLoss) + ")");
        }
        if (examples.isEmpty()) {
            throw new DataException(name + ": no training examples left out of " + Duplicates.plural(rows.size(), "row"));
        }
        log.add(Duplicates.plural(examples.size(), "example") + ", " + tokens + " tokens, " + lossTokens + " with loss");
        return new TrainingData(examples, log);
    }

    private static String limitSource(DataSpec spec, int modelMaxPositions) {
        if (spec.maxSeqLen() == 0 || modelMaxPositions < spec.maxSeqLen()) {
            return "the model's " + modelMaxPositions + " positions";
        }
        return "data.max_seq_len";
    }

    /** {@code "line 4"} or {@code "lines 4, 9, 12, ..."}: the first ten, so a log line stays a line. */
    static String lines(List<Integer> lines) {
        StringBuilder b = new StringBuilder(lines.size() == 1 ? "line " : "lines ");
        for (int i = 0; i < Math.min(10, lines.size()); i++) {
            b.append(i == 0 ? "" : ", ").append(lines.get(i));
        }
        return b.append(lines.size() > 10 ? ", ..." : "").toString();
    }
}
