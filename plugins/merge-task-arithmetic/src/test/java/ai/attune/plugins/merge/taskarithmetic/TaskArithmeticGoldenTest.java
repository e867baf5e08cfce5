package ai.attune.plugins.merge.taskarithmetic;

import ai.attune.api.spi.MergeLoop;
import ai.attune.api.spi.MergeParameter;
import ai.attune.api.spi.MergeTensor;
import ai.attune.api.spi.Merger;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Hand-worked goldens for each method of the family (worked on paper from the definitions in
 * mergekit's generalized_task_arithmetic.py and sparsify.py; each case's arithmetic is in its
 * comments). Every merge runs in chunks of 2 elements, so chunk boundaries are crossed.
 */
class TaskArithmeticGoldenTest {
    static final int CHUNK = 2;

    /** The inputs are {base, models...}; {@code perModel} holds one parameter map per model. */
    static float[] merge(Merger merger, Map<String, Object> global, List<Map<String, Object>> perModel, float[]... values) {
        List<Map<String, Object>> params = new ArrayList<>();
        params.add(resolved(merger.tensorParameters(), Map.of())); // the base's own parameters are not used
        for (Map<String, Object> p : perModel) {
            params.add(resolved(merger.tensorParameters(), p));
        }
        MergeTensor t = new MergeTensor("model.layers.0.mlp.up_proj.weight", new long[] {values[0].length}, 0, params,
                resolved(merger.parameters(), global), 42);
        return MergeLoop.run(merger, t, values, CHUNK);
    }

    static Map<String, Object> resolved(List<MergeParameter> schema, Map<String, Object> given) {
        Map<String, Object> out = new HashMap<>();
        for (MergeParameter p : schema) {
            if (p.defaultValue() != null) {
                out.put(p.name(), p.defaultValue());
            }
        }
        out.putAll(given);
        return out;
    }

    static float[] plus(float[] base, float... tau) {
        float[] r = new float[base.length];
        for (int i = 0; i < r.length; i++) {
            r[i] = base[i] + tau[i];
        }
        return r;
    }

    @Test
    void taskArithmeticAddsWeightedTaskVectors() {
        float[] base = {1, 2, 3, 4};
        float[] m1 = plus(base, 1, 0, 2, -4);
        float[] m2 = plus(base, -1, 2, 0, 4);
        List<Map<String, Object>> w = List.of(Map.of("weight", 0.5), Map.of("weight", 0.25));
        // 0.5·τ1 + 0.25·τ2 = [0.25, 0.5, 1, -1]
        assertArrayEquals(new float[] {1.25f, 2.5f, 4f, 3f}, merge(new TaskArithmeticMerger(), Map.of(), w, base, m1, m2), 0f);
        // normalize: / 0.75
        assertArrayEquals(new float[] {1 + 0.25f / 0.75f, 2 + 0.5f / 0.75f, 3 + 1f / 0.75f, 4 - 1f / 0.75f},
                merge(new TaskArithmeticMerger(), Map.of("normalize", true), w, base, m1, m2), 1e-6f);
        // lambda 2 scales the mix
        assertArrayEquals(new float[] {1.5f, 3f, 5f, 2f}, merge(new TaskArithmeticMerger(), Map.of("lambda", 2.0), w, base, m1, m2), 0f);
    }

    @Test
    void tiesTrimsElectsAndAveragesWithASignTieAndAZeroDivisor() {
        float[] base = {1, 1, 1, 1, 1, 1};
        // density 0.5 of 6: k = 3 per model.
        // |τ1| = [3, 1, 2, 0.5, 2, 0]   -> keeps 0, 2, 4 -> [3, 0, 2, 0, -2, 0]
        // |τ2| = [3, 2, 1, 0.5, 1.5, 0] -> keeps 0, 1, 4 -> [-3, 2, 0, 0, 1.5, 0]
        float[] m1 = plus(base, 3, -1, 2, 0.5f, -2, 0);
        float[] m2 = plus(base, -3, 2, -1, 0.5f, 1.5f, 0);
        List<Map<String, Object>> p = List.of(Map.of("weight", 1.0, "density", 0.5), Map.of("weight", 1.0, "density", 0.5));
        // e0: 3 + -3 = 0, a tie counts as +: only τ1 agrees -> 3 / 1
        // e1: τ1 pruned (sign 0, never takes part), τ2 = 2 -> 2 / 1
        // e2: 2 / 1;  e3: both pruned, divisor 0 -> 0;  e4: -2 + 1.5 < 0 -> -2 / 1;  e5: 0
        assertArrayEquals(new float[] {4, 3, 3, 1, -1, 1}, merge(new TiesMerger(), Map.of(), p, base, m1, m2), 0f);

        // weights 1 and 0.5: e1 -> 0.5·2 / 0.5 = 2; e0: 3 - 1.5 > 0 -> 3 / 1; e4: -2 + 0.75 < 0 -> -2 / 1
        List<Map<String, Object>> q = List.of(Map.of("weight", 1.0, "density", 0.5), Map.of("weight", 0.5, "density", 0.5));
        assertArrayEquals(new float[] {4, 3, 3, 1, -1, 1}, merge(new TiesMerger(), Map.of(), q, base, m1, m2), 0f);
        // normalize false: the raw agreeing sum: e1 -> 1
        assertArrayEquals(new float[] {4, 2, 3, 1, -1, 1}, merge(new TiesMerger(), Map.of("normalize", false), q, base, m1, m2), 0f);
    }

    @Test
    void tiesAveragesAgreeingEntriesByTheirWeights() {
        float[] base = {0, 0};
        List<Map<String, Object>> p = List.of(Map.of("weight", 1.0), Map.of("weight", 0.5));
        // e0: w·τ = [1, 1.5], both +: 2.5 / 1.5;  e1: [2, -0.5] -> + : 2 / 1
        assertArrayEquals(new float[] {2.5f / 1.5f, 2f}, merge(new TiesMerger(), Map.of(), p, base, new float[] {1, 2}, new float[] {3, -1}), 0f);
        // count: e1 has one + and one - -> tie -> +: the same; e0 the same
        assertArrayEquals(new float[] {2.5f / 1.5f, 2f},
                merge(new TiesMerger(), Map.of("consensus_method", "count"), p, base, new float[] {1, 2}, new float[] {3, -1}), 0f);
        // count differs from sum where a large minority loses: w·τ = [5, -1, -1] -> sum says +, count says -
        List<Map<String, Object>> three = List.of(Map.of("weight", 1.0), Map.of("weight", 1.0), Map.of("weight", 1.0));
        float[] b = {0};
        assertArrayEquals(new float[] {5f}, merge(new TiesMerger(), Map.of(), three, b, new float[] {5}, new float[] {-1}, new float[] {-1}), 0f);
        assertArrayEquals(new float[] {-1f},
                merge(new TiesMerger(), Map.of("consensus_method", "count"), three, b, new float[] {5}, new float[] {-1}, new float[] {-1}), 0f);
    }

    @Test
    void magnitudeRescalePreservesTheL1Norm() {
        float[] base = {0, 0, 0, 0};
        // k = 2 of [4, -1, 2, 1]: keeps 4 and 2; L1 8 before, 6 after -> x 8/6
        float[] out = merge(new TiesMerger(), Map.of("rescale", true), List.of(Map.of("weight", 1.0, "density", 0.5)), base,
                new float[] {4, -1, 2, 1});
        float f = 8f / 6f;
        assertArrayEquals(new float[] {4 * f, 0, 2 * f, 0}, out, 0f);
    }

    @Test
    void breadcrumbsDropsTheOutliersAndTheSmallest() {
        float[] base = new float[10];
        float[] tau = {0.1f, -0.9f, 0.3f, 0.7f, -0.2f, 0.5f, 1.0f, -0.4f, 0.6f, 0.8f};
        // density 0.5, gamma 0.1 of 10: keep 5, drop the 1 largest (1.0) and the 4 smallest (0.1, 0.2, 0.3, 0.4)
        float[] out = merge(new BreadcrumbsMerger(), Map.of(), List.of(Map.of("weight", 1.0, "density", 0.5, "gamma", 0.1)), base, tau);
        assertArrayEquals(new float[] {0, -0.9f, 0, 0.7f, 0, 0.5f, 0, 0, 0.6f, 0.8f}, out, 0f);
        // gamma 0.01 of 10 is int(0.1) = 0 outliers: mergekit's slice indices[n_bot:-0] keeps nothing
        float[] none = merge(new BreadcrumbsMerger(), Map.of(), List.of(Map.of("weight", 1.0, "density", 0.5)), base, tau);
        assertArrayEquals(new float[10], none, 0f);
    }

    @Test
    void dareAtDensityOneIsTaskArithmetic() {
        float[] base = {0.5f, -1, 2, 0.25f, 3};
        float[] m1 = {1.5f, -0.5f, 1, 0.75f, 2};
        float[] m2 = {0, 1, 2.5f, -1, 4};
        List<Map<String, Object>> p = List.of(Map.of("weight", 0.7), Map.of("weight", 0.4));
        float[] ta = merge(new TaskArithmeticMerger(), Map.of(), p, base, m1, m2);
        assertArrayEquals(ta, merge(new DareLinearMerger(), Map.of(), p, base, m1, m2), 0f);
    }

    @Test
    void dareKeepsEachEntryWithProbabilityDensityAndRescales() {
        int n = 100_000;
        float[] base = new float[n];
        float[] m = new float[n];
        java.util.Random r = new java.util.Random(7);
        for (int i = 0; i < n; i++) {
            base[i] = (float) r.nextGaussian();
            m[i] = base[i] + (float) r.nextGaussian();
        }
        List<Map<String, Object>> p = List.of(Map.of("weight", 1.0, "density", 0.3));
        float[] out = merge(new DareLinearMerger(), Map.of(), p, base, m);
        int kept = 0;
        for (int i = 0; i < n; i++) {
            float tau = m[i] - base[i];
            if (out[i] == base[i]) {
                continue;
            }
            assertEquals(base[i] + tau / 0.3f, out[i], 0f, "entry " + i + " is base or base + τ/0.3");
            kept++;
        }
        assertEquals(0.3, kept / (double) n, 0.01, "kept fraction");
        assertArrayEquals(out, merge(new DareLinearMerger(), Map.of(), p, base, m), 0f, "the same seed gives the same bits");
    }

    @Test
    void unmergeableParametersAreRefusedBeforeMerging() {
        float[] base = new float[10];
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> merge(new TiesMerger(), Map.of(), List.of(Map.of("weight", 1.0, "density", 0.05)), base, base));
        assertTrue(e.getMessage().contains("keeps no entry"), e.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> merge(new TiesMerger(), Map.of("consensus_method", "vote"), List.of(Map.of("weight", 1.0)), base, base));
    }
}
