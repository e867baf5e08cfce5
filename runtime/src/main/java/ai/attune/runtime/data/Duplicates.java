package ai.attune.runtime.data;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntUnaryOperator;

/**
 * Finds exact duplicates (same text after trimming and collapsing whitespace) and near duplicates
 * (MinHash Jaccard at least {@link #THRESHOLD}) in a list of texts. The first of a group is the
 * original; later ones are duplicates of it. Candidate pairs come from LSH banding, so the cost
 * stays near linear: 32 bands of 4 rows make pairs at the threshold candidates with probability
 * 1 - (1 - 0.8^4)^32 > 0.99999, and each candidate is then checked on the whole signature.
 */
public final class Duplicates {
    public static final double THRESHOLD = 0.8;
    private static final int BANDS = 32;
    private static final int ROWS = MinHash.PERMUTATIONS / BANDS;
    private static final long SEED = 42;

    public enum Kind { UNIQUE, EXACT, NEAR }

    /** What text i is: unique, or an exact or near duplicate of the earlier text {@code of}. */
    public record Verdict(Kind kind, int of) {
        public boolean duplicate() {
            return kind != Kind.UNIQUE;
        }
    }

    /** Counts of a verdict list. */
    public record Counts(int exact, int near) {
        public int total() {
            return exact + near;
        }
    }

    private Duplicates() {}

    public static List<Verdict> find(List<String> texts) {
        MinHash minHash = new MinHash(SEED);
        Map<String, Integer> firstByText = new HashMap<>();
        Map<Long, List<Integer>> buckets = new HashMap<>();
        List<long[]> signatures = new ArrayList<>(texts.size());
        List<Verdict> out = new ArrayList<>(texts.size());
        for (int i = 0; i < texts.size(); i++) {
            String norm = normalize(texts.get(i));
            Integer first = firstByText.putIfAbsent(norm, i);
            if (first != null) {
                signatures.add(null);
                out.add(new Verdict(Kind.EXACT, first));
                continue;
            }
            long[] sig = minHash.signature(norm);
            signatures.add(sig);
            int near = nearest(sig, buckets, signatures);
            if (near >= 0) {
                out.add(new Verdict(Kind.NEAR, near));
                continue;
            }
            // Only originals go into the index, so a chain of small edits is judged against its first text.
            for (int b = 0; b < BANDS; b++) {
                buckets.computeIfAbsent(bandKey(sig, b), k -> new ArrayList<>()).add(i);
            }
            out.add(new Verdict(Kind.UNIQUE, -1));
        }
        return out;
    }

    /** The earliest indexed text that shares a band with {@code sig} and is similar enough, else -1. */
    private static int nearest(long[] sig, Map<Long, List<Integer>> buckets, List<long[]> signatures) {
        int best = -1;
        for (int b = 0; b < BANDS; b++) {
            for (int j : buckets.getOrDefault(bandKey(sig, b), List.of())) {
                if ((best < 0 || j < best) && MinHash.similarity(sig, signatures.get(j)) >= THRESHOLD) {
                    best = j;
                }
            }
        }
        return best;
    }

    private static long bandKey(long[] sig, int band) {
        long h = band;
        for (int r = 0; r < ROWS; r++) {
            h = MinHash.mix(h * 31 + sig[band * ROWS + r]);
        }
        return h;
    }

    public static Counts count(List<Verdict> verdicts) {
        int exact = 0;
        int near = 0;
        for (Verdict v : verdicts) {
            if (v.kind() == Kind.EXACT) {
                exact++;
            } else if (v.kind() == Kind.NEAR) {
                near++;
            }
        }
        return new Counts(exact, near);
    }

    /** Trim and collapse runs of whitespace: the exact-duplicate key. */
    public static String normalize(String text) {
        return text.strip().replaceAll("\\s+", " ");
    }

    /**
     * One log line, e.g. {@code "dedup: removed 2 exact duplicates (line 5 = line 1, ...) and 1 near
     * duplicate (line 9 ~ line 3) of 12 rows"}; {@code lineOf} maps an index to its file line.
     */
    public static String summary(List<Verdict> verdicts, IntUnaryOperator lineOf, boolean removed) {
        Counts c = count(verdicts);
        if (c.total() == 0) {
            return "dedup: no exact or near duplicates in " + verdicts.size() + " rows";
        }
        List<String> exact = new ArrayList<>();
        List<String> near = new ArrayList<>();
        for (int i = 0; i < verdicts.size(); i++) {
            Verdict v = verdicts.get(i);
            if (v.kind() == Kind.EXACT) {
                exact.add("line " + lineOf.applyAsInt(i) + " = line " + lineOf.applyAsInt(v.of()));
            } else if (v.kind() == Kind.NEAR) {
                near.add("line " + lineOf.applyAsInt(i) + " ~ line " + lineOf.applyAsInt(v.of()));
            }
        }
        String what = plural(c.exact(), "exact duplicate") + list(exact) + " and " + plural(c.near(), "near duplicate") + list(near)
                + " (MinHash Jaccard >= " + THRESHOLD + ") of " + verdicts.size() + " rows";
        return removed ? "dedup: removed " + what : "dedup: found " + what + "; kept them (data.dedup is off)";
    }

    static String plural(int n, String noun) {
        return n + " " + noun + (n == 1 ? "" : "s");
    }

    /** At most the first five, so a log line stays a line. */
    private static String list(List<String> items) {
        if (items.isEmpty()) {
            return "";
        }
        String head = String.join(", ", items.subList(0, Math.min(5, items.size())));
        return " (" + head + (items.size() > 5 ? ", ..." : "") + ")";
    }
}
