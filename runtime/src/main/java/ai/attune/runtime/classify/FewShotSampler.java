package ai.attune.runtime.classify;

import ai.attune.runtime.data.ClassificationData.LabeledText;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.function.Consumer;

/**
 * setfit's {@code sample_dataset(dataset, label_column, num_samples, seed)}: for each class, the
 * class's rows shuffled with the seed and the first {@code perClass} kept. A class with fewer rows
 * is warned about and kept whole.
 */
public final class FewShotSampler {
    private FewShotSampler() {}

    public static List<LabeledText> sample(List<LabeledText> rows, int perClass, long seed, Consumer<String> warn) {
        if (perClass <= 0) {
            throw new IllegalArgumentException("--per-class must be > 0, got " + perClass);
        }
        Map<String, List<LabeledText>> byClass = new TreeMap<>();
        for (LabeledText r : rows) {
            byClass.computeIfAbsent(r.label(), k -> new ArrayList<>()).add(r);
        }
        List<LabeledText> out = new ArrayList<>();
        for (Map.Entry<String, List<LabeledText>> e : byClass.entrySet()) {
            List<LabeledText> members = new ArrayList<>(e.getValue());
            if (members.size() < perClass) {
                warn.accept("class " + e.getKey() + " has only " + members.size() + " examples (asked for " + perClass + "); using them all");
            }
            Collections.shuffle(members, new Random(seed));
            out.addAll(members.subList(0, Math.min(perClass, members.size())));
        }
        return out;
    }
}
