package ai.attune.plugins.setfit;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

/**
 * The sentence pairs SetFit trains the body on, as setfit's v1 {@code ContrastiveDataset} makes
 * them: every pair {@code i <= j} of the few-shot examples (self-pairs included), in a seeded
 * random order, labelled 1.0 when both have the same class and 0.0 otherwise. The strategy then
 * decides how many positives and negatives one epoch sees, cycling through each list:
 * <ul>
 *   <li>{@code oversampling} (default): both as many as the larger list, so the classes of pair
 *       are balanced and every unique pair is seen at least once;</li>
 *   <li>{@code undersampling}: both as many as the smaller list;</li>
 *   <li>{@code unique}: each pair once.</li>
 * </ul>
 * With {@code numIterations > 0} the legacy (setfit 0.x) sampler is used instead: for each
 * iteration and each sentence, one random positive partner (possibly itself) and one random
 * negative partner.
 */
public final class PairSampler {
    /** Which pairs, and how many of each kind, an epoch trains on. */
    public enum Strategy {
        OVERSAMPLING, UNDERSAMPLING, UNIQUE;

        /** From setfit's spelling: "oversampling", "undersampling", "unique". */
        public static Strategy of(String name) {
            for (Strategy s : values()) {
                if (s.name().equalsIgnoreCase(name)) {
                    return s;
                }
            }
            throw new IllegalArgumentException("unknown sampling strategy '" + name + "'; use oversampling, undersampling or unique");
        }
    }

    /** Two example indices and the target cosine similarity: 1.0 same class, 0.0 different. */
    public record Pair(int first, int second, double label) {}

    private PairSampler() {}

    /** Pairs for one epoch over examples whose classes are {@code labels} (any ids; equal means same class). */
    public static List<Pair> pairs(int[] labels, Strategy strategy, long seed) {
        List<Pair> positives = new ArrayList<>();
        List<Pair> negatives = new ArrayList<>();
        for (Pair p : shuffledCombinations(labels, seed)) {
            (p.label() == 1.0 ? positives : negatives).add(p);
        }
        int count = switch (strategy) {
            case OVERSAMPLING -> Math.max(positives.size(), negatives.size());
            case UNDERSAMPLING -> Math.min(positives.size(), negatives.size());
            case UNIQUE -> -1;
        };
        if (count < 0) {
            return interleave(positives, negatives);
        }
        return interleave(cycle(positives, count), cycle(negatives, count));
    }

    /** Every pair i <= j, self-pairs included (numpy's {@code triu_indices(n, 0)}), in a seeded random order. */
    public static List<Pair> shuffledCombinations(int[] labels, long seed) {
        List<Pair> all = new ArrayList<>(labels.length * (labels.length + 1) / 2);
        for (int i = 0; i < labels.length; i++) {
            for (int j = i; j < labels.length; j++) {
                all.add(new Pair(i, j, labels[i] == labels[j] ? 1.0 : 0.0));
            }
        }
        Collections.shuffle(all, new Random(seed));
        return all;
    }

    /**
     * setfit 0.x's {@code sentence_pairs_generation}, {@code numIterations} times: each sentence is
     * paired with a random member of its class (itself allowed) and a random member of another
     * class. A class with no other class to contrast gets no negative.
     */
    public static List<Pair> legacyPairs(int[] labels, int numIterations, long seed) {
        if (numIterations <= 0) {
            throw new IllegalArgumentException("num_iterations must be > 0, got " + numIterations);
        }
        Random random = new Random(seed);
        List<Pair> out = new ArrayList<>();
        for (int it = 0; it < numIterations; it++) {
            for (int i = 0; i < labels.length; i++) {
                List<Integer> same = new ArrayList<>();
                List<Integer> other = new ArrayList<>();
                for (int j = 0; j < labels.length; j++) {
                    (labels[j] == labels[i] ? same : other).add(j);
                }
                out.add(new Pair(i, same.get(random.nextInt(same.size())), 1.0));
                if (!other.isEmpty()) {
                    out.add(new Pair(i, other.get(random.nextInt(other.size())), 0.0));
                }
            }
        }
        return out;
    }

    /** The first {@code count} items of {@code list} repeated from its start as often as needed. */
    static List<Pair> cycle(List<Pair> list, int count) {
        List<Pair> out = new ArrayList<>(count);
        for (int k = 0; k < count && !list.isEmpty(); k++) {
            out.add(list.get(k % list.size()));
        }
        return out;
    }

    /** positive, negative, positive, ... then the rest of the longer list, as setfit's {@code zip_longest}. */
    static List<Pair> interleave(List<Pair> positives, List<Pair> negatives) {
        List<Pair> out = new ArrayList<>(positives.size() + negatives.size());
        for (int k = 0; k < Math.max(positives.size(), negatives.size()); k++) {
            if (k < positives.size()) {
                out.add(positives.get(k));
            }
            if (k < negatives.size()) {
                out.add(negatives.get(k));
            }
        }
        return out;
    }
}
