package ai.attune.runtime.train;

import ai.attune.api.data.Example;
import ai.attune.api.nn.DropoutSeeds;
import ai.attune.api.optim.LrSchedule;
import ai.attune.api.spi.MethodContext;
import ai.attune.api.spi.Optimizer;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensors;
import ai.attune.kernels.jvm.JvmBackend;
import ai.attune.plugins.optim.adamw.AdamWConfig;
import ai.attune.plugins.optim.adamw.AdamWOptimizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The loop against the pinned semantics written out in double: next-token NLL summed over the
 * step's micro-batches and divided by its target count, clip_grad_norm_, a linear schedule with
 * warm-up, and torch's AdamW, on a bigram model whose gradient is softmax - onehot.
 */
class TrainingLoopReferenceTest {
    static final int V = 6;
    static final double LR = 0.05, WD = 0.01, B1 = 0.9, B2 = 0.999, EPS = 1e-8, CLIP = 0.7;

    @TempDir
    Path dir;

    static List<Example> data() {
        return List.of(
                new Example(new long[] {1, 2, 3, 4}, new long[] {1, 2, 3, 4}),
                new Example(new long[] {2, 5}, new long[] {2, 5}),
                new Example(new long[] {0, 1, 2}, new long[] {-100, -100, 2}),
                new Example(new long[] {3, 3, 3, 1, 0}, new long[] {3, -100, 3, 1, 0}),
                new Example(new long[] {5, 4, 3}, new long[] {5, 4, 3}),
                new Example(new long[] {4}, new long[] {4}),
                new Example(new long[] {0, 0, 5, 2}, new long[] {0, 0, -100, 2}),
                new Example(new long[] {1, 5}, new long[] {1, 5}));
    }

    static double[] initial() {
        Random r = new Random(3);
        double[] w = new double[V * V];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) (r.nextGaussian() * 0.5);
        }
        return w;
    }

    /** Runs the loop on the bigram model; returns the final table and the per-step losses from events.jsonl. */
    double[][] attune(int micro, int accumulation, int steps, Path run) throws Exception {
        return attune(micro, accumulation, steps, run, false);
    }

    double[][] attune(int micro, int accumulation, int steps, Path run, boolean profile) throws Exception {
        JvmBackend be = new JvmBackend();
        try (Scope job = Scope.open("job")) {
            Bigram model = new Bigram(be, job, V);
            be.copy(Tensors.of(be, DType.F32, initial(), V, V), model.table.weight().value());
            MethodContext ctx = new MethodContext(be, DType.F32, job, 0, new DropoutSeeds(0), run, null);
            @SuppressWarnings({"unchecked", "rawtypes"})
            Optimizer<Object> adamw = (Optimizer) new AdamWOptimizer();
            AdamWConfig cfg = new AdamWConfig(List.of(B1, B2), EPS, WD, false, false);
            TrainingRun.Setup setup = new TrainingRun.Setup(model, new Bigram.AllParameters(), new Object(), adamw, cfg,
                    LrSchedule.of("linear", LR, 1, steps), ctx, micro, accumulation, steps, false, CLIP, 0, 0);
            RunDirectory rd = new RunDirectory(run);
            rd.create("test: true\n");
            new TrainingRun(setup, data(), List.of(), List.of(), rd, e -> { }).profile(profile).run(false);
            double[] w = Tensors.toDoubles(model.table.weight().value());
            List<Double> losses = new ArrayList<>();
            ObjectMapper json = new ObjectMapper();
            for (String line : Files.readAllLines(run.resolve("events.jsonl"))) {
                JsonNode n = json.readTree(line);
                if (n.path("type").asText().equals("step")) {
                    losses.add(n.path("loss").asDouble());
                }
            }
            return new double[][] {w, losses.stream().mapToDouble(Double::doubleValue).toArray()};
        }
    }

    /** The same steps in double: the oracle. */
    static double[][] reference(int micro, int accumulation, int steps) {
        double[] w = initial();
        double[] m = new double[w.length];
        double[] v = new double[w.length];
        double[] losses = new double[steps];
        List<Example> data = data();
        int cursor = 0;
        for (int s = 0; s < steps; s++) {
            double[] g = new double[w.length];
            double nll = 0;
            int targets = 0;
            for (int k = 0; k < micro * accumulation; k++) {
                Example e = data.get(cursor++ % data.size());
                for (int j = 0; j + 1 < e.inputIds().length; j++) {
                    long target = e.labels()[j + 1];
                    if (target == -100) {
                        continue;
                    }
                    int row = (int) e.inputIds()[j];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int c = 0; c < V; c++) {
                        max = Math.max(max, w[row * V + c]);
                    }
                    double sum = 0;
                    for (int c = 0; c < V; c++) {
                        sum += Math.exp(w[row * V + c] - max);
                    }
                    nll += max + Math.log(sum) - w[row * V + (int) target];
                    for (int c = 0; c < V; c++) {
                        g[row * V + c] += Math.exp(w[row * V + c] - max) / sum - (c == target ? 1 : 0);
                    }
                    targets++;
                }
            }
            losses[s] = nll / targets;
            double norm = 0;
            for (int i = 0; i < g.length; i++) {
                g[i] /= targets;
                norm += g[i] * g[i];
            }
            norm = Math.sqrt(norm);
            double coef = CLIP / (norm + 1e-6);
            if (coef < 1) {
                for (int i = 0; i < g.length; i++) {
                    g[i] *= coef;
                }
            }
            // linear schedule, warm-up 1: factor 0 at step 0, then (steps - s) / (steps - 1)
            double lr = LR * (s < 1 ? s / 1.0 : Math.max(0, (steps - s) / (double) Math.max(1, steps - 1)));
            int t = s + 1;
            for (int i = 0; i < w.length; i++) {
                w[i] *= 1 - lr * WD;
                m[i] = B1 * m[i] + (1 - B1) * g[i];
                v[i] = B2 * v[i] + (1 - B2) * g[i] * g[i];
                double denom = Math.sqrt(v[i]) / Math.sqrt(1 - Math.pow(B2, t)) + EPS;
                w[i] -= lr / (1 - Math.pow(B1, t)) * m[i] / denom;
            }
        }
        return new double[][] {w, losses};
    }

    @Test
    void stepsMatchTheReferenceLossClippingScheduleAndAdamW() throws Exception {
        double[][] got = attune(2, 2, 5, dir.resolve("run"));
        double[][] want = reference(2, 2, 5);
        assertArrayEquals(want[1], got[1], 1e-5, "per-step losses");
        assertArrayEquals(want[0], got[0], 2e-5, "final weights");
    }

    /** train.profile changes no number of the run, and ends it with one profile event over every step. */
    @Test
    void aProfiledRunTrainsTheSameAndWritesItsProfile() throws Exception {
        double[][] plain = attune(2, 2, 3, dir.resolve("plain"));
        double[][] profiled = attune(2, 2, 3, dir.resolve("profiled"), true);
        assertArrayEquals(plain[0], profiled[0], 0.0);
        assertArrayEquals(plain[1], profiled[1], 0.0);
        JsonNode profile = null;
        for (String line : Files.readAllLines(dir.resolve("profiled").resolve("events.jsonl"))) {
            JsonNode n = new ObjectMapper().readTree(line);
            if (n.path("type").asText().equals("profile")) {
                profile = n;
            }
        }
        assertEquals(3, profile.path("steps").asInt(), String.valueOf(profile));
        JsonNode last = profile.path("ops").get(profile.path("ops").size() - 1);
        assertEquals(ProfileTable.OUTSIDE, last.path("op").asText());
        assertEquals(false, ai.attune.api.tensor.OpProfile.recording(), "the run stops its recording");
    }

    @Test
    void aNonFiniteLossStopsTheRunNamingTheStepAndKeepsTheLastCheckpoint() throws Exception {
        JvmBackend be = new JvmBackend();
        Path run = dir.resolve("nan");
        try (Scope job = Scope.open("job")) {
            Bigram model = new Bigram(be, job, V);
            double[] w = initial();
            w[1 * V + 2] = Double.POSITIVE_INFINITY; // row 1 holds an inf logit: its softmax is NaN
            be.copy(Tensors.of(be, DType.F32, w, V, V), model.table.weight().value());
            MethodContext ctx = new MethodContext(be, DType.F32, job, 0, new DropoutSeeds(0), run, null);
            @SuppressWarnings({"unchecked", "rawtypes"})
            Optimizer<Object> adamw = (Optimizer) new AdamWOptimizer();
            TrainingRun.Setup setup = new TrainingRun.Setup(model, new Bigram.AllParameters(), new Object(), adamw, AdamWConfig.DEFAULTS,
                    LrSchedule.of("constant", LR, 0, 4), ctx, 1, 1, 4, false, CLIP, 0, 1);
            RunDirectory rd = new RunDirectory(run);
            rd.create("test: true\n");
            // Rows 0 and 1 need no row-1 logits; row 2 ([0, 1, 2]) does, at step 3.
            List<Example> data = List.of(data().get(1), data().get(4), data().get(0));
            IllegalStateException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
                    () -> new TrainingRun(setup, data, List.of(), List.of(), rd, x -> { }).run(false));
            assertEquals("step 3: the loss is NaN (gradient norm NaN): training stopped; the last good checkpoint is " + run.resolve("checkpoint-2"),
                    e.getMessage());
        }
        org.junit.jupiter.api.Assertions.assertTrue(Files.exists(run.resolve("checkpoint-2/trainer_state.json")));
        org.junit.jupiter.api.Assertions.assertFalse(Files.exists(run.resolve("final")));
    }

    @Test
    void gradientAccumulationEqualsTheFullBatch() throws Exception {
        double[] full = attune(4, 1, 4, dir.resolve("full"))[0];
        double[] halves = attune(2, 2, 4, dir.resolve("halves"))[0];
        double[] singles = attune(1, 4, 4, dir.resolve("singles"))[0];
        assertArrayEquals(full, halves, 1e-6);
        assertArrayEquals(full, singles, 1e-6);
        assertEquals(V * V, full.length);
    }
}
