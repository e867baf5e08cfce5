package ai.attune.plugins.merge.slerp;

import ai.attune.api.spi.MergeLoop;
import ai.attune.api.spi.MergeTensor;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/** Hand-worked goldens of mergekit's slerp: orthogonal vectors, unnormalised ones, and the collinear fallback. */
class SlerpMergerTest {
    private static float[] slerp(double t, float[] v0, float[] v1) {
        MergeTensor m = new MergeTensor("model.norm.weight", new long[] {v0.length}, 0, List.of(Map.of(), Map.of()), Map.of("t", t), 0);
        return MergeLoop.run(new SlerpMerger(), m, new float[][] {v0, v1}, 1);
    }

    @Test
    void orthogonalUnitVectorsMeetOnTheDiagonal() {
        float s = (float) Math.sin(Math.PI / 4); // θ = π/2: s0 = s1 = sin(π/4) / sin(π/2)
        assertArrayEquals(new float[] {s, s}, slerp(0.5, new float[] {1, 0}, new float[] {0, 1}), 1e-7f);
        assertArrayEquals(new float[] {1, 0}, slerp(0, new float[] {1, 0}, new float[] {0, 1}), 1e-7f);
        assertArrayEquals(new float[] {0, 1}, slerp(1, new float[] {1, 0}, new float[] {0, 1}), 1e-7f);
    }

    @Test
    void coefficientsApplyToTheUnnormalisedTensors() {
        float s = (float) Math.sin(Math.PI / 4);
        assertArrayEquals(new float[] {3 * s, 4 * s}, slerp(0.5, new float[] {3, 0}, new float[] {0, 4}), 1e-6f);
        // t = 1/3 of a right angle: s0 = sin(π/3) = 0.8660254, s1 = sin(π/6) = 0.5
        assertArrayEquals(new float[] {0.8660254f, 0.5f}, slerp(1.0 / 3, new float[] {1, 0}, new float[] {0, 1}), 1e-6f);
    }

    @Test
    void collinearTensorsFallBackToLinearInterpolation() {
        // v1 = 2·v0: cos θ = 1 > 0.9995 -> 0.75·v0 + 0.25·v1 = 1.25·v0
        assertArrayEquals(new float[] {1.25f, -2.5f, 3.75f}, slerp(0.25, new float[] {1, -2, 3}, new float[] {2, -4, 6}), 1e-6f);
    }
}
