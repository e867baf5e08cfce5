package ai.attune.runtime.generate;

import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The warpers' support and the draw's distribution, worked by hand on small logit vectors. */
class TokenPickerTest {
    @Test
    void greedyTakesTheArgmax() {
        assertEquals(2, new TokenPicker(Sampling.GREEDY).pick(new double[] {0.1, -3, 7, 6.9}));
    }

    @Test
    void topKKeepsOnlyTheKBest() {
        TokenPicker p = new TokenPicker(new Sampling(1.0, 2, 1.0, 1));
        Set<Integer> seen = new HashSet<>();
        for (int i = 0; i < 2000; i++) {
            seen.add(p.pick(new double[] {1, 2, 3, 4}));
        }
        assertEquals(Set.of(2, 3), seen);
    }

    @Test
    void topPDropsTheTailWhoseMassIsAtMostOneMinusP() {
        // softmax(ln [1, 2, 3, 4]) = [0.1, 0.2, 0.3, 0.4]; ascending cumulative 0.1, 0.3, 0.6: with top_p 0.7
        // the tail mass allowed is 0.3, so tokens 0 and 1 go and 2, 3 stay (renormalised to 3/7, 4/7).
        TokenPicker p = new TokenPicker(new Sampling(1.0, 0, 0.7, 3));
        int[] counts = new int[4];
        int n = 20000;
        for (int i = 0; i < n; i++) {
            counts[p.pick(new double[] {Math.log(1), Math.log(2), Math.log(3), Math.log(4)})]++;
        }
        assertEquals(0, counts[0]);
        assertEquals(0, counts[1]);
        assertEquals(3.0 / 7, counts[2] / (double) n, 0.02);
    }

    @Test
    void temperatureSharpensTheDistribution() {
        // logits [0, ln 3] at T = 0.5 -> weights 1 : 9, so P(1) = 0.9.
        TokenPicker p = new TokenPicker(new Sampling(0.5, 0, 1.0, 5));
        int ones = 0;
        int n = 20000;
        for (int i = 0; i < n; i++) {
            ones += p.pick(new double[] {0, Math.log(3)});
        }
        assertEquals(0.9, ones / (double) n, 0.01);
        assertTrue(ones < n);
    }

    @Test
    void sameSeedSameDraws() {
        double[] logits = {0.3, 0.1, 0.5, 0.2, 0.9};
        TokenPicker a = new TokenPicker(new Sampling(1.0, 0, 1.0, 42));
        TokenPicker b = new TokenPicker(new Sampling(1.0, 0, 1.0, 42));
        for (int i = 0; i < 100; i++) {
            assertEquals(a.pick(logits), b.pick(logits));
        }
    }
}
