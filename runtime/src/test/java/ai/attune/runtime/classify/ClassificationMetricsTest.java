package ai.attune.runtime.classify;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

class ClassificationMetricsTest {
    @Test
    void metricsOnAHandCountedConfusionMatrix() {
        // truth a a a b b c ; predicted a a b b c c
        // a: tp 2, predicted 2, actual 3 -> F1 4/5; b: tp 1, predicted 2, actual 2 -> 1/2; c: tp 1, predicted 2, actual 1 -> 2/3
        ClassificationMetrics m = ClassificationMetrics.of(List.of("a", "b", "c"), new int[] {0, 0, 0, 1, 1, 2}, new int[] {0, 0, 1, 1, 2, 2});
        assertEquals(4.0 / 6, m.accuracy(), 1e-15);
        assertEquals((0.8 + 0.5 + 2.0 / 3) / 3, m.macroF1(), 1e-15);
        assertArrayEquals(new int[] {2, 1, 0}, m.confusion()[0]);
    }
}
