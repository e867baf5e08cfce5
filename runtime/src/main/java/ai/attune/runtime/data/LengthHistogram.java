package ai.attune.runtime.data;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Token lengths in power-of-two buckets (1, 2, 3-4, 5-8, ..., (2^(k-1), 2^k]): lengths spread
 * over orders of magnitude, and the bucket edges line up with the usual max_seq_len values.
 */
public record LengthHistogram(int[] lengths) {
    private static final int BAR = 40;

    public LengthHistogram {
        lengths = lengths.clone();
        Arrays.sort(lengths);
    }

    /** Rows longer than {@code limit}. */
    public int longerThan(int limit) {
        int n = 0;
        for (int len : lengths) {
            if (len > limit) {
                n++;
            }
        }
        return n;
    }

    /** Bucket of a length: the k with 2^(k-1) < length <= 2^k (0 holds lengths 0 and 1). */
    static int bucket(int length) {
        return length <= 1 ? 0 : 32 - Integer.numberOfLeadingZeros(length - 1);
    }

    /** Counts per bucket, index = {@link #bucket}, up to the longest row's bucket. */
    public int[] counts() {
        if (lengths.length == 0) {
            return new int[0];
        }
        int[] counts = new int[bucket(lengths[lengths.length - 1]) + 1];
        for (int len : lengths) {
            counts[bucket(len)]++;
        }
        return counts;
    }

    /** A summary line, then one line per bucket from the shortest row's to the longest's, with a bar. */
    public List<String> lines() {
        List<String> out = new ArrayList<>();
        if (lengths.length == 0) {
            out.add("token lengths: no rows");
            return out;
        }
        long sum = 0;
        for (int len : lengths) {
            sum += len;
        }
        out.add(String.format(Locale.ROOT, "token lengths: min %d, median %d, mean %.1f, max %d", lengths[0],
                lengths[(lengths.length - 1) / 2], (double) sum / lengths.length, lengths[lengths.length - 1]));
        int[] counts = counts();
        int most = Arrays.stream(counts).max().orElse(1);
        for (int k = bucket(lengths[0]); k < counts.length; k++) {
            int lo = k == 0 ? 0 : (1 << (k - 1)) + 1;
            int hi = k == 0 ? 1 : 1 << k;
            String range = lo == hi ? Integer.toString(hi) : lo + "-" + hi;
            // Every non-empty bucket shows at least one mark, so a few outliers stay visible.
            int bar = counts[k] == 0 ? 0 : Math.max(1, Math.round((float) counts[k] * BAR / most));
            out.add(String.format(Locale.ROOT, "  %11s %6d  %s", range, counts[k], "#".repeat(bar)));
        }
        return out;
    }
}
