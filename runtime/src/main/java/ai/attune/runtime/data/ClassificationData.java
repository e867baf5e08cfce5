package ai.attune.runtime.data;

import ai.attune.api.data.DataException;
import ai.attune.api.data.Row;
import com.fasterxml.jackson.databind.JsonNode;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * Labelled texts for classification (SetFit, {@code attune data inspect}), with what was done to
 * them, one line each, for the run's log. Each step returns a new value; nothing is changed in place.
 */
public record ClassificationData(List<LabeledText> rows, List<String> log) {
    /** One row: its line in the file, its text and its class. */
    public record LabeledText(int line, String text, String label) {}

    public ClassificationData {
        rows = List.copyOf(rows);
        log = List.copyOf(log);
    }

    /**
     * Reads {@code file} (.jsonl objects or .csv with a header) taking the text and the label from
     * the given columns. A label may be a string or, in JSONL, a number or boolean (0/1 labels).
     */
    public static ClassificationData load(Path file, String textColumn, String labelColumn) throws IOException {
        List<LabeledText> out = new ArrayList<>();
        for (Row row : new RowReader().read(file)) {
            String text = row.string(textColumn);
            JsonNode l = row.value(labelColumn);
            if (l == null || l.isNull()) {
                throw row.error("missing \"" + labelColumn + "\" (the label)");
            }
            if (!l.isValueNode()) {
                throw row.error("\"" + labelColumn + "\" must be a string or number, not " + Row.describe(l));
            }
            String label = l.asText().strip();
            if (label.isEmpty()) {
                throw row.error("\"" + labelColumn + "\" is empty; every row needs a class");
            }
            out.add(new LabeledText(row.line(), text, label));
        }
        if (out.isEmpty()) {
            throw new DataException(DataException.fileName(file) + ": no rows");
        }
        var data = new ClassificationData(out, List.of());
        return data.with("read " + Duplicates.plural(out.size(), "row") + " from " + DataException.fileName(file) + ": " + data.describeCounts());
    }

    /** Rows per class, largest first (ties by name), so the order is the same on every run. */
    public Map<String, Integer> counts() {
        Map<String, Integer> byName = new TreeMap<>();
        for (LabeledText r : rows) {
            byName.merge(r.label(), 1, Integer::sum);
        }
        return byName.entrySet().stream()
                .sorted(Map.Entry.<String, Integer>comparingByValue().reversed().thenComparing(Map.Entry.comparingByKey()))
                .collect(Collectors.toMap(Map.Entry::getKey, Map.Entry::getValue, (a, b) -> a, LinkedHashMap::new));
    }

    /** Exact and near duplicates by text (whatever their labels); removed when {@code remove}, counted either way. */
    public ClassificationData dedup(boolean remove) {
        List<Duplicates.Verdict> verdicts = Duplicates.find(rows.stream().map(LabeledText::text).toList());
        String line = Duplicates.summary(verdicts, i -> rows.get(i).line(), remove);
        if (!remove) {
            return with(line);
        }
        List<LabeledText> kept = new ArrayList<>();
        for (int i = 0; i < rows.size(); i++) {
            if (!verdicts.get(i).duplicate()) {
                kept.add(rows.get(i));
            }
        }
        return new ClassificationData(kept, append(line));
    }

    /**
     * Equal class counts: {@code oversample} repeats rows of the smaller classes up to the largest
     * (each row as evenly as possible, in a seeded random order); {@code undersample} keeps a seeded
     * random subset of each larger class, the size of the smallest. Null leaves the data as it is.
     */
    public ClassificationData balance(String mode, long seed) {
        if (mode == null) {
            return this;
        }
        if (!mode.equals("oversample") && !mode.equals("undersample")) {
            throw new IllegalArgumentException("data.balance is " + mode + "; use oversample or undersample");
        }
        Map<String, Integer> before = counts();
        int target = mode.equals("oversample") ? Collections.max(before.values()) : Collections.min(before.values());
        Map<String, List<LabeledText>> byClass = new TreeMap<>();
        for (LabeledText r : rows) {
            byClass.computeIfAbsent(r.label(), k -> new ArrayList<>()).add(r);
        }
        Random random = new Random(seed);
        List<LabeledText> out;
        if (mode.equals("oversample")) {
            out = new ArrayList<>(rows);
            for (List<LabeledText> members : byClass.values()) {
                List<LabeledText> order = new ArrayList<>(members);
                Collections.shuffle(order, random);
                for (int k = 0; k < target - members.size(); k++) {
                    out.add(order.get(k % order.size()));
                }
            }
        } else {
            java.util.Set<LabeledText> keep = Collections.newSetFromMap(new java.util.IdentityHashMap<>());
            for (List<LabeledText> members : byClass.values()) {
                List<LabeledText> order = new ArrayList<>(members);
                Collections.shuffle(order, random);
                keep.addAll(order.subList(0, target));
            }
            out = rows.stream().filter(keep::contains).toList(); // the file's order
        }
        var balanced = new ClassificationData(out, log);
        String change = before.keySet().stream().map(k -> k + " " + before.get(k) + " -> " + balanced.counts().get(k))
                .collect(Collectors.joining(", "));
        return balanced.with("balance (" + mode + "): " + change + " (" + rows.size() + " -> " + out.size() + " rows)");
    }

    /** {@code "2 classes: acq 50, crude 20"}. */
    public String describeCounts() {
        Map<String, Integer> c = counts();
        return c.size() + (c.size() == 1 ? " class: " : " classes: ")
                + c.entrySet().stream().map(e -> e.getKey() + " " + e.getValue()).collect(Collectors.joining(", "));
    }

    private ClassificationData with(String line) {
        return new ClassificationData(rows, append(line));
    }

    private List<String> append(String line) {
        List<String> l = new ArrayList<>(log);
        l.add(line);
        return l;
    }
}
