package ai.attune.runtime.plan;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The runtime row: 100 MiB outside the heap, and the heap as measured, never above 40% of -Xmx. */
class RuntimeOverheadTest {
    @Test
    void aCappedHeapCountsTwoFifthsOfItsCap() {
        assertEquals((100L << 20) + (long) (0.4 * (1L << 30)), RuntimeOverhead.forMaxHeap(1L << 30).bytes());
    }

    @Test
    void theDefaultCapCountsTheHeapAsItGrewInTraining() {
        // a quarter of 24 GiB, the default -Xmx here: the heap grew to about 650 MiB, far below it
        assertEquals((100L << 20) + (650L << 20), RuntimeOverhead.forMaxHeap(6L << 30).bytes());
    }
}
