package ai.attune.runtime.train;

import ai.attune.api.data.Example;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** Next-token targets, worked by hand, without and with virtual tokens (PEFT's prompt-learning label padding). */
class MicroBatchTest {
    private static final long X = MicroBatch.IGNORE;

    @Test
    void targetsShiftByOneAndPadWithIgnore() {
        // rows [1 5 6] (labels [1 5 6]) and [1 7] (labels [-100 7]), padded to 3
        MicroBatch mb = MicroBatch.of(List.of(new Example(new long[] {1, 5, 6}, new long[] {1, 5, 6}),
                new Example(new long[] {1, 7}, new long[] {X, 7})));
        assertArrayEquals(new long[] {5, 6, X, 7, X, X}, mb.targets());
        assertEquals(3, mb.targetCount());
    }

    @Test
    void theLastVirtualTokenPredictsTheFirstRealToken() {
        // P = 2: labels become [-100 -100 | labels], so position P-1 predicts labels[0] when it counts
        MicroBatch mb = MicroBatch.of(List.of(new Example(new long[] {1, 5, 6}, new long[] {1, 5, 6}),
                new Example(new long[] {1, 7}, new long[] {X, 7})), 2);
        assertArrayEquals(new long[] {X, 1, 5, 6, X, X, X, 7, X, X}, mb.targets());
        assertEquals(4, mb.targetCount());
        assertEquals(2 * 5, mb.targets().length, "rows × (P + t)");
    }
}
