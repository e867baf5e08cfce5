package ai.attune.plugins.lora;

import ai.attune.api.nn.Module;
import ai.attune.api.nn.Parameter;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.kernels.jvm.JvmBackend;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static ai.attune.plugins.lora.Fixtures.IDS;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * LoRA on the real stories260K (f32), against the same model whose q/v weights the test merges
 * by hand: {@code W + (alpha / r) * B @ A} in double loops.
 */
class LoraForwardTest {
    static final int R = 4;
    static final double ALPHA = 8;
    private final JvmBackend be = new JvmBackend();

    static LoraConfig qv(int r, double alpha) {
        return new LoraConfig(r, alpha, 0, TargetModules.of("q_proj", "v_proj"), false, null, "none", null, null);
    }

    @Test
    void adaptedLogitsEqualHandMergedWeightsAndMergeUnmergeRoundTrips() throws Exception {
        try (Scope job = Scope.open("job")) {
            Module lora = Fixtures.stories(be, DType.F32, job);
            Map<String, double[]> base = new HashMap<>();
            lora.namedParameters().forEach((n, p) -> base.put(n, Fixtures.values(lora, n)));
            List<Parameter> params = new LoraMethod().apply(lora, qv(R, ALPHA), Fixtures.context(be, DType.F32, job, 7, null));
            assertEquals(2 * 2 * 5, params.size());
            Random rnd = new Random(42);
            Map<String, double[]> ab = new HashMap<>();
            lora.namedParameters().forEach((n, p) -> {
                if (n.contains(".lora_")) {
                    ab.put(n, Fixtures.randomize(p, rnd, 0, 0.1));
                }
            });
            double[] adapted = Fixtures.logits(lora, IDS);

            Module byHand = Fixtures.stories(be, DType.F32, job);
            Map<String, double[]> merged = new HashMap<>();
            for (String path : LoraLayers.find(lora).keySet()) {
                double[] w = handMerged(base.get(path + ".weight"), ab.get(path + ".lora_A.weight"), ab.get(path + ".lora_B.weight"),
                        R, ALPHA / R, false);
                merged.put(path + ".weight", w);
                Fixtures.set(byHand.namedParameters().get(path + ".weight"), w);
            }
            double[] oracle = Fixtures.logits(byHand, IDS);
            double dAdapted = Fixtures.maxAbsDiff(adapted, oracle);
            System.out.printf("stories260K LoRA r=4 q,v: max |adapted - hand-merged| logits = %.3g%n", dAdapted);
            assertTrue(dAdapted < 1e-4, "adapted vs hand-merged logits: " + dAdapted);
            double change = Fixtures.maxAbsDiff(adapted, Fixtures.logits(Fixtures.stories(be, DType.F32, job), IDS));
            assertTrue(change > 1e-2, "the adapter should change the logits, changed by " + change);

            LoraLayers.merge(lora);
            double weightErr = 0;
            for (var e : merged.entrySet()) {
                weightErr = Math.max(weightErr, Fixtures.maxAbsDiff(e.getValue(), Fixtures.values(lora, e.getKey())));
            }
            double dMerged = Fixtures.maxAbsDiff(Fixtures.logits(lora, IDS), oracle);
            System.out.printf("merge(): max |W - hand-merged W| = %.3g, logits %.3g%n", weightErr, dMerged);
            assertTrue(weightErr < 1e-6, "merged weights: " + weightErr);
            assertTrue(dMerged < 1e-4, "merged logits: " + dMerged);
            assertTrue(LoraLayers.find(lora).values().stream().allMatch(LoraLayer::merged));

            LoraLayers.unmerge(lora);
            double restored = 0;
            for (String name : merged.keySet()) {
                restored = Math.max(restored, Fixtures.maxAbsDiff(base.get(name), Fixtures.values(lora, name)));
            }
            System.out.printf("unmerge(): max |W - original W| = %.3g%n", restored);
            assertTrue(restored < 1e-6, "unmerged weights: " + restored);
            assertTrue(Fixtures.maxAbsDiff(Fixtures.logits(lora, IDS), adapted) < 1e-5);
        }
    }

    /** {@code W + scaling * B @ A}; W [out, in] (or [in, out] with fanInFanOut), A [r, in], B [out, r]. */
    static double[] handMerged(double[] w, double[] a, double[] b, int r, double scaling, boolean fanInFanOut) {
        int in = a.length / r;
        int out = b.length / r;
        double[] m = w.clone();
        for (int o = 0; o < out; o++) {
            for (int i = 0; i < in; i++) {
                double d = 0;
                for (int k = 0; k < r; k++) {
                    d += b[o * r + k] * a[k * in + i];
                }
                m[fanInFanOut ? i * out + o : o * in + i] += scaling * d;
            }
        }
        return m;
    }

    @Test
    void aFreshAdapterLeavesTheModelUnchangedAndStartsAsPeftDoes() throws Exception {
        try (Scope job = Scope.open("job")) {
            Module m = Fixtures.stories(be, DType.F32, job);
            double[] before = Fixtures.logits(m, IDS);
            List<Parameter> params = new LoraMethod().apply(m, qv(R, ALPHA), Fixtures.context(be, DType.F32, job, 7, null));
            assertArrayEquals(before, Fixtures.logits(m, IDS), "B = 0, so the update is exactly zero");

            List<String> names = new ArrayList<>();
            m.namedParameters().forEach((n, p) -> {
                if (params.stream().anyMatch(q -> q == p)) {
                    names.add(n);
                }
            });
            assertEquals(List.of("model.layers.0.self_attn.q_proj.lora_A.weight", "model.layers.0.self_attn.q_proj.lora_B.weight",
                    "model.layers.0.self_attn.v_proj.lora_A.weight", "model.layers.0.self_attn.v_proj.lora_B.weight"), names.subList(0, 4));
            assertEquals("model.layers.4.self_attn.v_proj.lora_B.weight", names.get(names.size() - 1));
            for (int i = 0; i < params.size(); i++) {
                assertEquals(names.get(i), pathOf(m, params.get(i)), "apply() returns parameters in module path order, A then B");
            }

            // kaiming_uniform_(a=sqrt(5)) on [r, in]: U(-1/sqrt(in), 1/sqrt(in)); B = 0.
            double bound = 1 / Math.sqrt(64);
            double sumSq = 0;
            int n = 0;
            for (String name : names) {
                double[] v = Fixtures.values(m, name);
                if (name.contains("lora_B")) {
                    assertArrayEquals(new double[v.length], v, name);
                    continue;
                }
                assertArrayEquals(new int[] {R, 64}, m.namedParameters().get(name).value().shape(), name);
                for (double x : v) {
                    assertTrue(Math.abs(x) <= bound, name + " value " + x + " outside the kaiming bound " + bound);
                    sumSq += x * x;
                    n++;
                }
            }
            double var = sumSq / n;
            assertEquals(bound * bound / 3, var, 0.1 * bound * bound / 3, "variance of U(-b, b) is b^2/3");
        }
    }

    @Test
    void initDependsOnTheSeedAndPathNotOnWhichLayersAreAdapted() throws Exception {
        String a0 = "model.layers.2.self_attn.q_proj.lora_A.weight";
        try (Scope job = Scope.open("job")) {
            Module one = Fixtures.stories(be, DType.F32, job);
            new LoraMethod().apply(one, LoraConfig.DEFAULTS.withTargetModules(TargetModules.of("q_proj")), Fixtures.context(be, DType.F32, job, 7, null));
            Module two = Fixtures.stories(be, DType.F32, job);
            new LoraMethod().apply(two, LoraConfig.DEFAULTS.withTargetModules(TargetModules.regex(".*\\.(v|o|q)_proj")), Fixtures.context(be, DType.F32, job, 7, null));
            Module other = Fixtures.stories(be, DType.F32, job);
            new LoraMethod().apply(other, LoraConfig.DEFAULTS.withTargetModules(TargetModules.of("q_proj")), Fixtures.context(be, DType.F32, job, 8, null));
            assertArrayEquals(Fixtures.values(one, a0), Fixtures.values(two, a0));
            assertNotEquals(Fixtures.values(one, a0)[0], Fixtures.values(other, a0)[0]);
            assertNotEquals(Fixtures.values(one, a0)[0], Fixtures.values(one, "model.layers.1.self_attn.q_proj.lora_A.weight")[0]);
        }
    }

    @Test
    void rsloraScalesByAlphaOverSqrtR() throws Exception {
        try (Scope job = Scope.open("job")) {
            Module m = Fixtures.stories(be, DType.F32, job);
            LoraConfig c = new LoraConfig(4, 8, 0, TargetModules.of("model.layers.1.self_attn.q_proj"), true, null, "none", null, null);
            new LoraMethod().apply(m, c, Fixtures.context(be, DType.F32, job, 7, null));
            LoraLayer l = LoraLayers.find(m).get("model.layers.1.self_attn.q_proj");
            assertEquals(8 / Math.sqrt(4), l.scaling(), 0);
            assertEquals(1, LoraLayers.find(m).size());
        }
    }

    private static String pathOf(Module m, Parameter p) {
        return m.namedParameters().entrySet().stream().filter(e -> e.getValue() == p).findFirst().orElseThrow().getKey();
    }
}
