package ai.attune.plugins.setfit;

import ai.attune.plugins.setfit.PairSampler.Pair;
import ai.attune.plugins.setfit.PairSampler.Strategy;
import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PairSamplerTest {
    /** 2 classes x 8 examples: indices 0-7 class 0, 8-15 class 1. */
    private static final int[] TWO_BY_EIGHT = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1};

    @Test
    void twoClassesOfEightGive136UniquePairsWithSelfPairs() {
        // i <= j over 16 examples: 16 * 17 / 2 = 136.
        // Positives: per class 8 * 9 / 2 = 36 (28 distinct + 8 self-pairs), two classes: 72.
        // Negatives: 8 * 8 = 64.
        List<Pair> unique = PairSampler.pairs(TWO_BY_EIGHT, Strategy.UNIQUE, 42);
        assertEquals(136, unique.size());
        assertEquals(72, unique.stream().filter(p -> p.label() == 1.0).count());
        assertEquals(64, unique.stream().filter(p -> p.label() == 0.0).count());
        assertEquals(16, unique.stream().filter(p -> p.first() == p.second()).count());
        Set<List<Integer>> distinct = new HashSet<>();
        for (Pair p : unique) {
            assertTrue(p.first() <= p.second());
            assertEquals(TWO_BY_EIGHT[p.first()] == TWO_BY_EIGHT[p.second()] ? 1.0 : 0.0, p.label());
            distinct.add(List.of(p.first(), p.second()));
        }
        assertEquals(136, distinct.size());
    }

    @Test
    void oversamplingCyclesTheNegativesUpToThePositives() {
        // max(72, 64) = 72 of each: 144 pairs, the first 8 negatives seen twice.
        List<Pair> over = PairSampler.pairs(TWO_BY_EIGHT, Strategy.OVERSAMPLING, 42);
        assertEquals(144, over.size());
        assertEquals(72, over.stream().filter(p -> p.label() == 1.0).count());
        assertEquals(72, over.stream().filter(p -> p.label() == 0.0).count());
        // Interleaved as setfit's zip_longest: positive, negative, positive, ...
        for (int k = 0; k < over.size(); k++) {
            assertEquals(k % 2 == 0 ? 1.0 : 0.0, over.get(k).label());
        }
        List<Pair> negatives = over.stream().filter(p -> p.label() == 0.0).toList();
        assertEquals(negatives.subList(0, 8), negatives.subList(64, 72));
    }

    @Test
    void undersamplingKeepsAsManyPositivesAsNegatives() {
        // min(72, 64) = 64 of each.
        List<Pair> under = PairSampler.pairs(TWO_BY_EIGHT, Strategy.UNDERSAMPLING, 42);
        assertEquals(128, under.size());
        assertEquals(64, under.stream().filter(p -> p.label() == 1.0).count());
    }

    @Test
    void theSeedFixesTheOrder() {
        assertEquals(PairSampler.pairs(TWO_BY_EIGHT, Strategy.UNIQUE, 7), PairSampler.pairs(TWO_BY_EIGHT, Strategy.UNIQUE, 7));
        assertNotEquals(PairSampler.pairs(TWO_BY_EIGHT, Strategy.UNIQUE, 7), PairSampler.pairs(TWO_BY_EIGHT, Strategy.UNIQUE, 8));
    }

    @Test
    void legacySamplerDrawsOnePositiveAndOneNegativePerSentenceAndIteration() {
        // 16 sentences x 3 iterations x (1 positive + 1 negative) = 96.
        List<Pair> legacy = PairSampler.legacyPairs(TWO_BY_EIGHT, 3, 42);
        assertEquals(96, legacy.size());
        for (int k = 0; k < legacy.size(); k += 2) {
            Pair pos = legacy.get(k);
            Pair neg = legacy.get(k + 1);
            assertEquals(pos.first(), neg.first());
            assertEquals(1.0, pos.label());
            assertEquals(TWO_BY_EIGHT[pos.first()], TWO_BY_EIGHT[pos.second()]);
            assertEquals(0.0, neg.label());
            assertNotEquals(TWO_BY_EIGHT[neg.first()], TWO_BY_EIGHT[neg.second()]);
        }
    }

    @Test
    void threeClassesOfEight() {
        // 24 * 25 / 2 = 300 pairs; positives 3 * 36 = 108; negatives 3 * 64 = 192; oversampling 2 * 192 = 384.
        int[] labels = new int[24];
        for (int i = 0; i < 24; i++) {
            labels[i] = i / 8;
        }
        assertEquals(300, PairSampler.pairs(labels, Strategy.UNIQUE, 1).size());
        assertEquals(384, PairSampler.pairs(labels, Strategy.OVERSAMPLING, 1).size());
        assertEquals(216, PairSampler.pairs(labels, Strategy.UNDERSAMPLING, 1).size());
    }
}
