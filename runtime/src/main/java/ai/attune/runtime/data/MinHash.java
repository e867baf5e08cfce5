package ai.attune.runtime.data;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashSet;
import java.util.Locale;
import java.util.Set;

/**
 * MinHash signatures of texts (Broder 1997), the near-duplicate detector of large-corpus dedup
 * pipelines (e.g. text-dedup, datatrove): the share of equal signature entries estimates the
 * Jaccard similarity of the texts' shingle sets. Shingles are word 5-grams, or character 5-grams for
 * texts of fewer than five words, where word 5-grams would leave nothing to compare.
 */
final class MinHash {
    static final int PERMUTATIONS = 128;
    static final int SHINGLE = 5;

    // One seed per permutation; hashing a shingle with seed k stands in for the k-th random permutation.
    private final long[] seeds = new long[PERMUTATIONS];

    MinHash(long seed) {
        long s = seed;
        for (int k = 0; k < PERMUTATIONS; k++) {
            s += 0x9E3779B97F4A7C15L;
            seeds[k] = mix(s);
        }
    }

    long[] signature(String text) {
        long[] sig = new long[PERMUTATIONS];
        java.util.Arrays.fill(sig, Long.MAX_VALUE);
        for (String shingle : shingles(text)) {
            long h = fnv1a(shingle);
            for (int k = 0; k < PERMUTATIONS; k++) {
                sig[k] = Math.min(sig[k], mix(h ^ seeds[k]));
            }
        }
        return sig;
    }

    /** Estimated Jaccard similarity: the share of permutations whose minimum agrees. */
    static double similarity(long[] a, long[] b) {
        int same = 0;
        for (int k = 0; k < a.length; k++) {
            if (a[k] == b[k]) {
                same++;
            }
        }
        return (double) same / a.length;
    }

    /**
     * Case and punctuation are ignored, so near duplicates that differ only in them still match;
     * exact duplicates are caught before, on the whitespace-normalized text.
     */
    static Set<String> shingles(String text) {
        String norm = text.toLowerCase(Locale.ROOT).replaceAll("[^\\p{L}\\p{N}]+", " ").strip();
        Set<String> out = new LinkedHashSet<>();
        if (norm.isEmpty()) {
            out.add(text.strip()); // only punctuation: compare it as it is
            return out;
        }
        String[] words = norm.split(" ");
        if (words.length >= SHINGLE) {
            for (int i = 0; i + SHINGLE <= words.length; i++) {
                out.add(String.join(" ", java.util.Arrays.copyOfRange(words, i, i + SHINGLE)));
            }
        } else if (norm.length() <= SHINGLE) {
            out.add(norm);
        } else {
            for (int i = 0; i + SHINGLE <= norm.length(); i++) {
                out.add(norm.substring(i, i + SHINGLE));
            }
        }
        return out;
    }

    private static long fnv1a(String s) {
        long h = 0xcbf29ce484222325L;
        for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
            h = (h ^ (b & 0xff)) * 0x100000001b3L;
        }
        return h;
    }

    /** SplitMix64's finalizer: a bijection that scrambles every input bit into every output bit. */
    static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
