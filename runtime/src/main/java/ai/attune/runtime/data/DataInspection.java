package ai.attune.runtime.data;

import ai.attune.api.data.DataException;
import ai.attune.api.data.EncodeContext;
import ai.attune.api.data.Row;
import ai.attune.api.data.Sample;
import ai.attune.api.spi.DataFormat;
import ai.attune.api.text.TextTokenizer;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What {@code attune data inspect} reports about a data file: rows, empty rows, exact and near
 * duplicates, and, given a tokenizer, token lengths and how many rows a length limit would cut;
 * for classification, the class balance. Rows are checked exactly as training reads them, so a
 * file that inspects cleanly also loads.
 */
public record DataInspection(String file, String format, int rows, int empty, Duplicates.Counts duplicates,
                             Map<String, Integer> classes, LengthHistogram lengths, Integer limit) {
    /** A class this many times larger than the smallest is worth a warning (a common rule of thumb; 1:1.5 still trains fine). */
    public static final double IMBALANCE_WARNING = 1.5;

    /**
     * The report on a language-model data file in {@code format}, the installed format named
     * {@code name}.
     *
     * @param tokenizer null to skip token lengths
     * @param vocabSize the model's vocabulary size, to check pre-tokenized ids (with a tokenizer)
     * @param limit     the length limit to count truncations against, or null
     */
    public static DataInspection of(Path file, String name, DataFormat<Sample> format, TextTokenizer tokenizer, int vocabSize,
                                    Integer limit) throws IOException {
        EncodeContext context = null;
        if (tokenizer != null) {
            format.check(tokenizer);
            context = new EncodeContext(tokenizer, vocabSize, limit == null ? Integer.MAX_VALUE : limit);
        }
        List<Row> rows = new RowReader().read(file);
        List<String> texts = new ArrayList<>();
        List<Integer> lengths = new ArrayList<>();
        int empty = 0;
        for (Row row : rows) {
            Sample s = format.parse(row);
            if (Duplicates.normalize(s.text()).isEmpty()) {
                empty++; // training skips these, so they are neither compared nor measured
                continue;
            }
            texts.add(s.text());
            if (context != null) {
                lengths.add(format.encode(s, context).length());
            }
        }
        return new DataInspection(DataException.fileName(file), name, rows.size(), empty, Duplicates.count(Duplicates.find(texts)), null,
                context == null ? null : new LengthHistogram(lengths.stream().mapToInt(Integer::intValue).toArray()), limit);
    }

    /**
     * The report on a classification file: its texts and labels from the given columns, the class
     * balance, and token lengths with a tokenizer (null to skip them).
     */
    public static DataInspection classification(Path file, TextTokenizer tokenizer, Integer limit, String textColumn, String labelColumn)
            throws IOException {
        ClassificationData data = ClassificationData.load(file, textColumn, labelColumn);
        List<String> texts = data.rows().stream().map(ClassificationData.LabeledText::text).toList();
        int empty = (int) texts.stream().filter(t -> t.isBlank()).count();
        int[] lengths = null;
        if (tokenizer != null) {
            lengths = texts.stream().mapToInt(t -> tokenizer.encode(t).length).toArray();
        }
        return new DataInspection(DataException.fileName(file), DataSpec.CLASSIFICATION, texts.size(), empty, Duplicates.count(Duplicates.find(texts)),
                data.counts(), lengths == null ? null : new LengthHistogram(lengths), limit);
    }

    /** The report as printed, one line each. */
    public List<String> lines() {
        List<String> out = new ArrayList<>();
        out.add(file + ": " + Duplicates.plural(rows, "row") + " (format " + format + ")");
        out.add("empty rows: " + empty);
        out.add("exact duplicates: " + duplicates.exact());
        out.add("near duplicates: " + duplicates.near() + " (MinHash Jaccard >= " + Duplicates.THRESHOLD + ")");
        if (classes != null) {
            out.add("classes: " + classes.size());
            int width = classes.keySet().stream().mapToInt(String::length).max().orElse(0);
            for (var e : classes.entrySet()) {
                out.add(String.format(Locale.ROOT, "  %-" + width + "s %6d  %5.1f%%", e.getKey(), e.getValue(), 100.0 * e.getValue() / rows));
            }
            imbalanceWarning().ifPresent(out::add);
        }
        if (lengths != null) {
            out.addAll(lengths.lines());
            if (limit != null) {
                int cut = lengths.longerThan(limit);
                int measured = lengths.lengths().length;
                out.add(String.format(Locale.ROOT, "longer than %d tokens (truncated or rejected by training): %d of %d rows (%.1f%%)",
                        limit, cut, measured, measured == 0 ? 0.0 : 100.0 * cut / measured));
            }
        }
        return out;
    }

    private java.util.Optional<String> imbalanceWarning() {
        if (classes.size() < 2) {
            return java.util.Optional.of("warning: only one class (" + classes.keySet().iterator().next() + "); a classifier needs at least two");
        }
        var largest = classes.entrySet().iterator().next();
        var smallest = classes.entrySet().stream().reduce((a, b) -> b).orElseThrow();
        double ratio = (double) largest.getValue() / smallest.getValue();
        if (ratio <= IMBALANCE_WARNING) {
            return java.util.Optional.empty();
        }
        return java.util.Optional.of(String.format(Locale.ROOT,
                "warning: the largest class (%s, %d rows) is %.2fx the smallest (%s, %d rows); consider data.balance: oversample or undersample",
                largest.getKey(), largest.getValue(), ratio, smallest.getKey(), smallest.getValue()));
    }
}
