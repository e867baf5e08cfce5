package ai.attune.plugins.merge.taskarithmetic;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The streaming radix select against a full sort of the same magnitudes, with many ties. */
class MagnitudeRankTest {
    @Test
    void everyPositionMatchesASortedCopy() {
        Random r = new Random(11);
        for (int round = 0; round < 50; round++) {
            int n = 1 + r.nextInt(3000);
            float[] tau = new float[n];
            for (int i = 0; i < n; i++) {
                tau[i] = round % 2 == 0 ? (float) r.nextGaussian() : r.nextInt(7) - 3; // the odd rounds are mostly ties
            }
            float[] sorted = new float[n];
            for (int i = 0; i < n; i++) {
                sorted[i] = Math.abs(tau[i]);
            }
            Arrays.sort(sorted);
            long p = r.nextInt(n);
            long q = r.nextInt(n);
            MagnitudeRank rank = new MagnitudeRank(Math.min(p, q), Math.max(p, q));
            for (int off = 0; off < n; off += 97) { // chunks
                float[] chunk = Arrays.copyOfRange(tau, off, Math.min(n, off + 97));
                rank.countHigh(chunk, chunk.length);
            }
            rank.endHigh();
            for (int off = 0; off < n; off += 97) {
                float[] chunk = Arrays.copyOfRange(tau, off, Math.min(n, off + 97));
                rank.countLow(chunk, chunk.length);
            }
            rank.endLow();
            long[] targets = {Math.min(p, q), Math.max(p, q)};
            for (int t = 0; t < 2; t++) {
                float v = sorted[(int) targets[t]];
                assertEquals(v, rank.value(t), 0f);
                long less = 0;
                while (less < n && sorted[(int) less] < v) {
                    less++;
                }
                assertEquals(less, rank.less(t));
            }
        }
    }
}
