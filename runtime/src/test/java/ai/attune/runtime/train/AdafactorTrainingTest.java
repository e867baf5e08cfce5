package ai.attune.runtime.train;

import ai.attune.api.autograd.Autograd;
import ai.attune.api.autograd.F;
import ai.attune.api.autograd.Views;
import ai.attune.api.io.SafetensorsFile;
import ai.attune.api.io.SafetensorsReader;
import ai.attune.api.model.CausalLM;
import ai.attune.api.model.ModelConfig;
import ai.attune.api.nn.Parameter;
import ai.attune.api.spi.Kind;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensors;
import ai.attune.kernels.jvm.JvmBackend;
import ai.attune.plugins.method.full.FullFineTuning;
import ai.attune.plugins.model.llama.LlamaFamily;
import ai.attune.plugins.optim.adafactor.AdafactorOptimizer;
import ai.attune.plugins.data.text.TextFormat;
import ai.attune.plugins.optim.adamw.AdamWOptimizer;
import ai.attune.api.data.Example;
import ai.attune.runtime.host.TestCatalog;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Full fine-tuning of the real stories260K with Adafactor and {@code lr: null}, as {@code attune
 * train} runs it (TrainJob over a plugin registry): against an independent loop in f64 with
 * transformers' Adafactor written out below; resumed bit for bit from a checkpoint holding state
 * tensors of every shape; and a manual lr refused under relative_step, by key.
 */
class AdafactorTrainingTest {
    @TempDir
    Path dir;

    TestCatalog plugins;
    final StringWriter log = new StringWriter();
    Path data;

    @BeforeEach
    void registry() throws Exception {
        plugins = TestCatalog.start(dir.resolve("felix"))
                .register(Kind.MODEL, "llama", new LlamaFamily())
                .register(Kind.METHOD, "full", new FullFineTuning())
                .register(Kind.OPTIMIZER, "adafactor", new AdafactorOptimizer())
                .register(Kind.OPTIMIZER, "adamw", new AdamWOptimizer())
                .register(Kind.DATA_FORMAT, "text", new TextFormat())
                .register(Kind.BACKEND, "jvm", new JvmBackend());
        data = StoriesLoraRuns.mobyDick(dir, "train.jsonl", 0, 12);
    }

    @AfterEach
    void stop() throws Exception {
        plugins.close();
    }

    Path recipe(Path out, String optimizer, int steps, int saveEvery) throws IOException {
        Path recipe = dir.resolve("recipe.yaml");
        Files.writeString(recipe, """
                model: %s
                method: full
                data: {format: text, path: %s, max_seq_len: 64, truncate: true, shuffle: false}
                train:
                  micro_batch_size: 2
                  gradient_accumulation_steps: 2
                  max_steps: %d
                  save_every: %d
                  optimizer: %s
                  schedule: {name: cosine, warmup_steps: 1}
                  max_grad_norm: 1.0
                output: %s
                """.formatted(StoriesLoraRuns.STORIES.toAbsolutePath(), data, steps, saveEvery, optimizer, out));
        return recipe;
    }

    TrainJob.Prepared prepare(Path recipe, String... overrides) throws IOException {
        return new TrainJob(plugins.catalog(), new PrintWriter(log, true)).prepare(recipe, new RecipeLoader().read(recipe, List.of(overrides)), null);
    }

    void run(TrainJob.Prepared p, Consumer<com.fasterxml.jackson.databind.node.ObjectNode> progress) throws IOException {
        try (Scope scope = Scope.open("job")) {
            new TrainJob(plugins.catalog(), new PrintWriter(log, true)).run(p, scope, progress, StepControl.NONE);
        }
    }

    static Map<String, float[]> weights(Path modelDir) throws IOException {
        Map<String, float[]> out = new LinkedHashMap<>();
        try (SafetensorsFile f = SafetensorsFile.open(modelDir.resolve("model.safetensors"))) {
            for (String name : f.names()) {
                out.put(name, f.data(name).toArray(ValueLayout.JAVA_FLOAT));
            }
        }
        return out;
    }

    /**
     * The "done when" of the plugin: 3 steps, micro-batch 2, accumulation 2, clip 1.0, transformers'
     * defaults and no lr; every weight of the saved model within 1e-5 of the f64 reference, which
     * moved each by about 1e-2 * rms(weight) a step (so a wrong step size or second moment fails).
     */
    @Test
    void fullFineTuningMatchesTransformersAdafactor() throws Exception {
        Path out = dir.resolve("run");
        run(prepare(recipe(out, "{name: adafactor, lr: null}", 3, 0)), e -> { });

        Map<String, double[]> want = Reference.run(StoriesLoraRuns.examples(data), 3, 2, 2, 1.0);
        Map<String, float[]> got = weights(out.resolve("final"));
        Map<String, float[]> base = weights(StoriesLoraRuns.STORIES);
        assertEquals(want.keySet(), got.keySet());
        for (String name : want.keySet()) {
            double[] w = want.get(name);
            float[] g = got.get(name);
            float[] b = base.get(name);
            double moved = 0;
            for (int i = 0; i < w.length; i++) {
                if (Math.abs(g[i] - w[i]) > 1e-5) {
                    fail(name + "[" + i + "]: expected " + w[i] + ", got " + g[i] + " (base " + b[i] + ")");
                }
                moved = Math.max(moved, Math.abs(w[i] - b[i]));
            }
            assertTrue(moved > 1e-4, name + " moved by " + moved);
        }

        List<String> steps = Files.readAllLines(out.resolve(RunDirectory.EVENTS)).stream().filter(l -> l.contains("\"type\":\"step\"")).toList();
        assertEquals(3, steps.size());
        steps.forEach(l -> assertFalse(l.contains("\"lr\""), "no single lr to report: " + l));
        String line = "train: train.schedule is ignored: adafactor computes its own step size (train.optimizer.lr is null)";
        assertEquals(1, log.toString().lines().filter(line::equals).count(), log.toString());
    }

    /**
     * A run killed after its step-4 checkpoint and resumed ends with the bits of one that never
     * stopped; the checkpoint holds row and column moments for matrices, full ones for vectors,
     * exp_avg (beta1) and each parameter's step.
     */
    @Test
    void resumedRunIsBitExact() throws Exception {
        String optimizer = "{name: adafactor, lr: null, beta1: 0.9, weight_decay: 0.01}";
        Path whole = dir.resolve("whole");
        run(prepare(recipe(whole, optimizer, 6, 2)), e -> { });

        Path broken = dir.resolve("broken");
        assertThrows(ResumeTest.Crash.class, () -> run(prepare(recipe(broken, optimizer, 6, 2)), e -> {
            if (e.path("step").asLong() == 5) {
                throw new ResumeTest.Crash();
            }
        }));
        try (SafetensorsFile opt = SafetensorsFile.open(broken.resolve("checkpoint-4").resolve(Checkpoint.OPTIMIZER))) {
            String gate = "model.layers.0.mlp.gate_proj.weight/"; // [172, 64]
            assertArrayEquals(new long[] {172}, opt.info(gate + "exp_avg_sq_row").shape());
            assertArrayEquals(new long[] {64}, opt.info(gate + "exp_avg_sq_col").shape());
            assertArrayEquals(new long[] {172, 64}, opt.info(gate + "exp_avg").shape());
            assertArrayEquals(new long[] {64}, opt.info("model.norm.weight/exp_avg_sq").shape());
            assertFalse(opt.names().contains(gate + "exp_avg_sq"));
            assertEquals(4.0, opt.data(gate + "step").get(ValueLayout.JAVA_DOUBLE_UNALIGNED, 0));
        }
        TrainJob job = new TrainJob(plugins.catalog(), new PrintWriter(log, true));
        TrainJob.Prepared resumed = job.prepare(null, null, broken);
        try (Scope scope = Scope.open("job")) {
            job.run(resumed, scope, e -> { }, StepControl.NONE);
        }

        Map<String, float[]> a = weights(whole.resolve("final"));
        Map<String, float[]> b = weights(broken.resolve("final"));
        assertEquals(a.keySet(), b.keySet());
        for (String name : a.keySet()) {
            assertArrayEquals(a.get(name), b.get(name), name + " differs after the resume");
        }
    }

    @Test
    void aManualLrUnderRelativeStepIsRefusedByKey() throws IOException {
        Path out = dir.resolve("refused");
        RecipeException e = assertThrows(RecipeException.class, () -> prepare(recipe(out, "{name: adafactor, lr: 1.0e-3}", 3, 0)));
        assertEquals("recipe.yaml: key 'train.optimizer.lr' must be null: adafactor computes its own step size with the settings in "
                + "train.optimizer (turn that off there to give an lr)", e.getMessage());
        e = assertThrows(RecipeException.class, () -> prepare(recipe(out, "{name: adafactor, relative_step: false}", 3, 0)));
        assertEquals("recipe.yaml: missing key 'train.optimizer.lr': adafactor takes its step size from it, e.g. {name: adafactor, lr: 2e-4}",
                e.getMessage());
        e = assertThrows(RecipeException.class, () -> prepare(recipe(out, "{name: adamw}", 3, 0)));
        assertEquals("recipe.yaml: missing key 'train.optimizer.lr': adamw takes its step size from it, e.g. {name: adamw, lr: 2e-4}",
                e.getMessage());
        e = assertThrows(RecipeException.class, () -> prepare(recipe(out, "{name: adafactor, lr: 1.0e-3, relative_step: false, warmup_init: true}", 3, 0)));
        assertEquals("recipe.yaml: train.optimizer: warmup_init: true needs relative_step: true (it warms up the relative step size)",
                e.getMessage());
        assertFalse(Files.exists(out));
        // relative_step off with an lr is transformers' "manual" mode: accepted, with the schedule over that lr
        assertEquals("adafactor", prepare(recipe(out, "{name: adafactor, lr: 1.0e-3, relative_step: false, scale_parameter: false}", 3, 0))
                .recipe().train().optimizer().get("name").asText());
    }

    /**
     * The oracle: the same three steps with nothing of the training loop. Each example's summed
     * next-token NLL and its gradient come from the model in f64 (its forward is checked against
     * transformers' math in model-llama's tests, its backward by finite differences in the
     * conformance suite), one example at a time without padding; then the step's mean over target
     * tokens, clip_grad_norm_ and transformers' Adafactor with its defaults, in double loops.
     */
    static final class Reference {
        private Reference() {}

        static Map<String, double[]> run(List<Example> data, int steps, int micro, int accumulation, double clip) throws IOException {
            JvmBackend be = new JvmBackend();
            try (Scope job = Scope.open("reference"); SafetensorsReader r = SafetensorsReader.openModelDir(StoriesLoraRuns.STORIES)) {
                CausalLM lm = (CausalLM) new LlamaFamily().load(ModelConfig.read(StoriesLoraRuns.STORIES), r, be, DType.F64, job);
                Map<String, Parameter> params = lm.module().namedParameters();
                params.values().forEach(p -> p.setTrainable(true));
                Map<String, double[]> w = new LinkedHashMap<>();
                Map<String, Adafactor> opt = new LinkedHashMap<>();
                params.forEach((name, p) -> {
                    w.put(name, Tensors.toDoubles(p.value()));
                    opt.put(name, new Adafactor(p.value().shape()));
                });
                int cursor = 0;
                for (int s = 0; s < steps; s++) {
                    long targets = 0;
                    for (int k = 0; k < micro * accumulation; k++) {
                        targets += backward(lm, data.get(cursor++ % data.size()), be);
                    }
                    Map<String, double[]> g = new LinkedHashMap<>();
                    double norm = 0;
                    for (var e : params.entrySet()) {
                        double[] grad = Tensors.toDoubles(e.getValue().grad());
                        for (int i = 0; i < grad.length; i++) {
                            grad[i] /= targets;
                            norm += grad[i] * grad[i];
                        }
                        g.put(e.getKey(), grad);
                    }
                    double coef = clip / (Math.sqrt(norm) + 1e-6);
                    for (var e : params.entrySet()) {
                        double[] grad = g.get(e.getKey());
                        if (coef < 1) {
                            for (int i = 0; i < grad.length; i++) {
                                grad[i] *= coef;
                            }
                        }
                        opt.get(e.getKey()).step(w.get(e.getKey()), grad);
                        e.getValue().value().clearGrad();
                        try (Scope tmp = Scope.open("set")) {
                            be.copy(Tensors.of(be, DType.F64, w.get(e.getKey()), e.getValue().value().shape()), e.getValue().value());
                        }
                    }
                }
                return w;
            }
        }

        /** Accumulates one example's summed next-token NLL gradient into the parameters; returns its target count. */
        private static long backward(CausalLM lm, Example e, JvmBackend be) {
            long[] ids = e.inputIds();
            long[] targets = new long[ids.length];
            long count = 0;
            for (int j = 0; j < ids.length; j++) {
                targets[j] = j + 1 < ids.length ? e.labels()[j + 1] : -100;
                count += targets[j] == -100 ? 0 : 1;
            }
            try (Scope s = Scope.open("example")) {
                var logits = lm.forward(Tensors.ofLongs(be, ids, 1, ids.length), null, null); // [1, t, vocab]
                Autograd.backward(F.crossEntropy(Views.reshape(logits, ids.length, -1), Tensors.ofLongs(be, targets, ids.length), -100, F.Reduction.SUM));
            }
            return count;
        }
    }

    /**
     * transformers' Adafactor.step() for one parameter with its defaults (eps (1e-30, 1e-3),
     * clip_threshold 1, decay_rate -0.8, no beta1, no weight decay, scale_parameter and
     * relative_step): stories260K's weights are matrices [rows, cols] and vectors.
     */
    static final class Adafactor {
        final boolean factored;
        final int rows;
        final int cols;
        final double[] row;
        final double[] col;
        int step;

        Adafactor(int[] shape) {
            factored = shape.length == 2;
            rows = factored ? shape[0] : 1;
            cols = shape[shape.length - 1];
            row = new double[rows];
            col = new double[factored ? cols : rows * cols]; // a vector's exp_avg_sq lives here
        }

        void step(double[] p, double[] g) {
            step++;
            double lr = Math.max(1e-3, rms(p)) * Math.min(1e-2, 1 / Math.sqrt(step));
            double beta2t = 1 - Math.pow(step, -0.8);
            double[] u = new double[p.length];
            if (factored) {
                for (int i = 0; i < rows; i++) {
                    double mean = 0;
                    for (int j = 0; j < cols; j++) {
                        mean += g[i * cols + j] * g[i * cols + j] + 1e-30;
                    }
                    row[i] = row[i] * beta2t + (1 - beta2t) * mean / cols;
                }
                for (int j = 0; j < cols; j++) {
                    double mean = 0;
                    for (int i = 0; i < rows; i++) {
                        mean += g[i * cols + j] * g[i * cols + j] + 1e-30;
                    }
                    col[j] = col[j] * beta2t + (1 - beta2t) * mean / rows;
                }
                double rowMean = 0;
                for (double v : row) {
                    rowMean += v / rows;
                }
                for (int i = 0; i < rows; i++) {
                    for (int j = 0; j < cols; j++) {
                        u[i * cols + j] = g[i * cols + j] / Math.sqrt(row[i] / rowMean) / Math.sqrt(col[j]);
                    }
                }
            } else {
                for (int j = 0; j < p.length; j++) {
                    col[j] = col[j] * beta2t + (1 - beta2t) * (g[j] * g[j] + 1e-30);
                    u[j] = g[j] / Math.sqrt(col[j]);
                }
            }
            double denom = Math.max(1, rms(u));
            for (int k = 0; k < p.length; k++) {
                p[k] -= u[k] / denom * lr;
            }
        }

        static double rms(double[] x) {
            double ss = 0;
            for (double v : x) {
                ss += v * v;
            }
            return Math.sqrt(ss / x.length);
        }
    }
}
