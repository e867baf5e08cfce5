package ai.attune.plugins.merge.linear;

import ai.attune.api.spi.MergeLoop;
import ai.attune.api.spi.MergeTensor;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Hand-worked goldens of mergekit's linear merge. */
class LinearMergerTest {
    private static float[] merge(boolean normalize, double[] w, float[]... values) {
        List<Map<String, Object>> p = java.util.Arrays.stream(w).mapToObj(x -> Map.<String, Object>of("weight", x)).toList();
        MergeTensor t = new MergeTensor("lm_head.weight", new long[] {values[0].length}, -1, p, Map.of("normalize", normalize), 0);
        return MergeLoop.run(new LinearMerger(), t, values, 1);
    }

    @Test
    void weightedSumDividedByTheWeights() {
        float[][] x = {{1, 2}, {3, 4}, {5, 8}};
        // 1·[1,2] + 2·[3,4] + 1·[5,8] = [12, 18]; / 4
        assertArrayEquals(new float[] {3f, 4.5f}, merge(true, new double[] {1, 2, 1}, x), 0f);
        assertArrayEquals(new float[] {12f, 18f}, merge(false, new double[] {1, 2, 1}, x), 0f);
    }

    @Test
    void weightsSummingToZeroAreRefusedWhenNormalizing() {
        assertThrows(IllegalArgumentException.class, () -> merge(true, new double[] {1, -1}, new float[] {1}, new float[] {2}));
    }
}
