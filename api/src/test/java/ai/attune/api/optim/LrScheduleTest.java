package ai.attune.api.optim;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Goldens worked by hand from transformers' lr lambdas (optimization.py) with warmup 2, total 10
 * and base lr 1.0, so lr(step) is the lambda itself.
 */
class LrScheduleTest {
    private static final double TOL = 1e-12;

    private static void assertLrs(LrSchedule s, int[] steps, double[] expected) {
        for (int i = 0; i < steps.length; i++) {
            assertEquals(expected[i], s.lr(steps[i]), TOL, s.name() + " at step " + steps[i]);
        }
    }

    @Test
    void constantIgnoresWarmup() {
        assertLrs(LrSchedule.of("constant", 1.0, 2, 10), new int[] {0, 1, 5, 50}, new double[] {1, 1, 1, 1});
    }

    @Test
    void constantWithWarmupRampsThenHolds() {
        // 0/2, 1/2, then 1
        assertLrs(LrSchedule.of("constant_with_warmup", 1.0, 2, 10), new int[] {0, 1, 2, 9, 50}, new double[] {0, 0.5, 1, 1, 1});
    }

    @Test
    void linearRampsThenDecaysToZero() {
        // warmup 0/2, 1/2; then (10 - s) / (10 - 2): s=2 -> 8/8, s=3 -> 7/8, s=6 -> 4/8, s=10 -> 0, s=12 -> max(0, -2/8)
        assertLrs(LrSchedule.of("linear", 1.0, 2, 10),
                new int[] {0, 1, 2, 3, 6, 10, 12}, new double[] {0, 0.5, 1, 0.875, 0.5, 0, 0});
    }

    @Test
    void cosineIsAHalfWaveAfterWarmup() {
        // progress p = (s - 2) / 8; lr = 0.5 * (1 + cos(pi * 0.5 * 2 * p)) = 0.5 * (1 + cos(pi p)):
        // s=2: p 0 -> 1; s=4: p 1/4 -> 0.5 * (1 + sqrt(2)/2) = 0.8535533905932737; s=6: p 1/2 -> 0.5;
        // s=10: p 1 -> 0; s=14: p 3/2 -> 0.5 * (1 + cos(3pi/2)) = 0.5: transformers' cosine rises again past the end.
        assertLrs(LrSchedule.of("cosine", 1.0, 2, 10),
                new int[] {0, 1, 2, 4, 6, 10, 14}, new double[] {0, 0.5, 1, 0.8535533905932737, 0.5, 0, 0.5});
    }

    @Test
    void cosineWithRestartsRestartsEachCycleAndStopsAtTheEnd() {
        // default one cycle: same as cosine up to the end, then 0 (progress >= 1) where cosine would rise
        assertLrs(LrSchedule.of("cosine_with_restarts", 1.0, 2, 10), new int[] {4, 6, 10, 14}, new double[] {0.8535533905932737, 0.5, 0, 0});
        // two cycles: (2p mod 1): s=4 -> 0.5 -> 0.5 * (1 + cos(pi/2)) = 0.5; s=6 -> 0 -> restart at 1; s=8 -> 0.5 -> 0.5
        assertLrs(LrSchedule.cosineWithRestarts(1.0, 2, 10, 2), new int[] {2, 4, 6, 8}, new double[] {1, 0.5, 1, 0.5});
    }

    @Test
    void polynomialDecaysToLrEnd() {
        // defaults lr_end 1e-7, power 1: s=6 -> (1 - 1e-7) * (1 - 4/8) + 1e-7 = 0.50000005; s=10 -> 1e-7; s=11 -> lr_end / lr
        assertLrs(LrSchedule.of("polynomial", 1.0, 2, 10), new int[] {1, 2, 6, 10, 11}, new double[] {0.5, 1, 0.50000005, 1e-7, 1e-7});
        // power 2, lr_end 0.1: s=6 -> 0.9 * 0.5^2 + 0.1 = 0.325
        assertEquals(0.325, LrSchedule.polynomial(1.0, 2, 10, 0.1, 2.0).lr(6), TOL);
        assertThrows(IllegalArgumentException.class, () -> LrSchedule.polynomial(1e-8, 0, 10, 1e-7, 1.0));
    }

    @Test
    void baseLrScalesTheMultiplier() {
        LrSchedule s = LrSchedule.of("linear", 2e-4, 2, 10);
        assertEquals(0.875, s.multiplier(3), TOL);
        assertEquals(1.75e-4, s.lr(3), 1e-18);
    }

    @Test
    void zeroWarmupStartsAtTheBaseLr() {
        // max(1, warmup) keeps 0/0 out: step 0 is already in the decay, (10 - 0) / 10
        assertEquals(1.0, LrSchedule.of("linear", 1.0, 0, 10).lr(0), TOL);
        assertEquals(1.0, LrSchedule.of("cosine", 1.0, 0, 10).lr(0), TOL);
    }

    @Test
    void unknownNameListsTheKnownOnes() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> LrSchedule.of("cosine_annealing", 1.0, 0, 10));
        assertTrue(e.getMessage().contains("cosine_annealing"), e.getMessage());
        for (String known : LrSchedule.NAMES) {
            assertTrue(e.getMessage().contains(known), e.getMessage());
        }
        assertThrows(IllegalArgumentException.class, () -> LrSchedule.of(null, 1.0, 0, 10));
    }

    @Test
    void badStepsAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> LrSchedule.of("linear", 1.0, -1, 10));
        assertThrows(IllegalArgumentException.class, () -> LrSchedule.of("linear", 1.0, 0, 10).lr(-1));
        assertThrows(IllegalArgumentException.class, () -> LrSchedule.of("linear", Double.NaN, 0, 10));
    }
}
