package ai.attune.runtime.train;

import ai.attune.api.autograd.Autograd;
import ai.attune.api.autograd.F;
import ai.attune.api.autograd.Ops;
import ai.attune.api.autograd.Views;
import ai.attune.api.data.Example;
import ai.attune.api.model.CausalLM;
import ai.attune.api.model.ModelConfig;
import ai.attune.api.nn.Parameter;
import ai.attune.api.tensor.BlockPool;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;
import ai.attune.kernels.jvm.JvmBackend;
import ai.attune.plugins.model.llama.LlamaFamily;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Training's loss with the head fused into cross-entropy ({@link Perplexity#nllSum}) against the
 * logits path it replaces, {@code cross_entropy(forward(...))}, on the pretrained stories260K:
 * the same loss and the same gradient for every trainable parameter, in full fine-tuning (where
 * the head is the tied input embedding, so the fused op's weight gradient and the embedding's
 * gather add up) and with LoRA.
 */
class FusedLossTest {
    static final String LORA_ON_HEAD = "{\"r\": 4, \"alpha\": 8, \"target_modules\": [\"q_proj\", \"lm_head\"]}";

    @TempDir
    Path dir;

    record Step(double loss, Map<String, float[]> grads) {}

    /** One micro-batch's loss, scaled as the training loop scales it, and its backward. */
    static Step step(TrainingRun.Setup s, MicroBatch mb, JvmBackend be, boolean fused) {
        Map<String, Parameter> trainable = new LinkedHashMap<>();
        s.model().module().namedParameters().forEach((name, p) -> {
            if (p.trainable()) {
                trainable.put(name, p);
            }
        });
        for (Parameter p : trainable.values()) {
            p.value().clearGrad();
        }
        s.context().dropout().startMicroBatch(0, 0); // the same dropout masks in both passes
        try (Scope micro = Scope.open("micro-batch")) {
            Tensor sum = !fused ? unfused(s.model(), mb, be)
                    : Perplexity.fusable(s.model().outputHead()) ? Perplexity.nllSum(s.model(), mb, be) : fusedTrainedHead(s.model(), mb, be);
            Tensor loss = Ops.mulScalar(sum, 1.0 / mb.targetCount());
            double value = Tensors.item(loss);
            Autograd.backward(loss);
            Map<String, float[]> grads = new LinkedHashMap<>();
            trainable.forEach((name, p) -> grads.put(name, Tensors.toFloats(p.value().grad())));
            return new Step(value, grads);
        }
    }

    /** The fused op over a head that trains, which training leaves on the logits path (see Perplexity#fusable). */
    static Tensor fusedTrainedHead(CausalLM model, MicroBatch mb, JvmBackend be) {
        Tensor hidden = model.hiddenStates(mb.idsTensor(be), mb.maskTensor(be), null); // [mb, t, hidden]
        Tensor flat = Views.reshape(hidden, mb.rows() * (mb.virtual() + mb.length()), -1);
        return F.linearCrossEntropy(flat, model.outputHead().weight().value(), mb.targetsTensor(be), MicroBatch.IGNORE, F.Reduction.SUM);
    }

    /** The logits path: the oracle. */
    static Tensor unfused(CausalLM model, MicroBatch mb, JvmBackend be) {
        Tensor logits = model.forward(mb.idsTensor(be), mb.maskTensor(be), null); // [mb, t, vocab]
        Tensor flat = Views.reshape(logits, mb.rows() * (mb.virtual() + mb.length()), -1);
        return F.crossEntropy(flat, mb.targetsTensor(be), MicroBatch.IGNORE, F.Reduction.SUM);
    }

    void assertSame(Step want, Step got) {
        assertEquals(want.loss(), got.loss(), 1e-6 * Math.abs(want.loss()), "loss");
        assertEquals(want.grads().keySet(), got.grads().keySet());
        for (String name : want.grads().keySet()) {
            float[] w = want.grads().get(name);
            float[] g = got.grads().get(name);
            double scale = 0;
            for (float v : w) {
                scale = Math.max(scale, Math.abs(v));
            }
            assertTrue(scale > 0, name + " got no gradient");
            for (int i = 0; i < w.length; i++) {
                assertTrue(Math.abs(w[i] - g[i]) <= 1e-5 * scale, name + "[" + i + "]: fused " + g[i] + ", unfused " + w[i]);
            }
        }
    }

    List<Example> data() throws Exception {
        return StoriesLoraRuns.examples(StoriesLoraRuns.mobyDick(dir, "train.jsonl", 0, 4));
    }

    @Test
    void fullFineTuningMatchesTheLogitsPath() throws Exception {
        JvmBackend be = new JvmBackend();
        try (Scope job = Scope.open("job")) {
            TrainingRun.Setup s = StoriesLoraRuns.setup(be, job, ResumeTest.LORA, 1e-3, 1, 0, 0, 5); // its method is left unapplied
            for (Parameter p : s.model().module().namedParameters().values()) {
                p.setTrainable(true);
            }
            s.model().module().setTraining(true);
            assertFalse(Perplexity.fusable(s.model().outputHead()), "a trained head keeps the logits path in training");
            assertTrue(s.model().outputHead().weight() == s.model().inputEmbeddings().weight(), "stories260K ties lm_head to embed_tokens");
            MicroBatch mb = MicroBatch.of(data(), 0);
            Step want = step(s, mb, be, false);
            Step got = step(s, mb, be, true);
            assertSame(want, got);
            assertTrue(got.grads().containsKey("model.embed_tokens.weight"));
        }
    }

    @Test
    void loraMatchesTheLogitsPath() throws Exception {
        JvmBackend be = new JvmBackend();
        try (Scope job = Scope.open("job")) {
            TrainingRun.Setup s = StoriesLoraRuns.setup(be, job, ResumeTest.LORA, 1e-3, 1, 0, 0, 5);
            s.method().apply(s.model().module(), s.methodConfig(), s.context());
            // lora_B starts at zero, which would leave lora_A without gradient: give it values
            Random r = new Random(3);
            for (Map.Entry<String, Parameter> e : s.model().module().namedParameters().entrySet()) {
                Parameter p = e.getValue();
                if (e.getKey().contains("lora_B")) {
                    Tensor v = p.value();
                    be.copy(Tensors.of(be, DType.F32, r.doubles(v.numel()).map(x -> (x - 0.5) * 0.1).toArray(), v.shape()), v);
                }
            }
            s.model().module().setTraining(true);
            s.model().module().setDropoutSeeds(s.context().dropout());
            assertTrue(Perplexity.fusable(s.model().outputHead()));
            MicroBatch mb = MicroBatch.of(data(), 0);
            Step got = step(s, mb, be, true);
            assertSame(step(s, mb, be, false), got);
            assertTrue(got.grads().keySet().stream().anyMatch(k -> k.contains("lora_A")));
        }
    }

    @Test
    void anAdapterOnTheHeadKeepsTheLogitsPath() throws Exception {
        JvmBackend be = new JvmBackend();
        try (Scope job = Scope.open("job")) {
            TrainingRun.Setup s = StoriesLoraRuns.setup(be, job, LORA_ON_HEAD, 1e-3, 1, 0, 0, 5);
            s.method().apply(s.model().module(), s.methodConfig(), s.context());
            assertFalse(s.model().outputHead().adapters().isEmpty());
            assertFalse(Perplexity.fusable(s.model().outputHead()));
        }
    }

    /**
     * The tensor service's peak over one LoRA micro-batch (forward and backward) of a Llama with a
     * 32000-word vocabulary, hidden 256, 2 layers, batch 4 x 256, through the logits and fused.
     * Weights are zeros: the bytes a step holds do not depend on their values.
     */
    @Test
    void fusedLossLowersTheStepPeakOfABigVocabulary() throws Exception {
        String config = "{\"model_type\": \"llama\", \"hidden_size\": 256, \"intermediate_size\": 688, \"num_hidden_layers\": 2,"
                + " \"num_attention_heads\": 4, \"num_key_value_heads\": 4, \"vocab_size\": 32000, \"max_position_embeddings\": 512,"
                + " \"rms_norm_eps\": 1e-5, \"tie_word_embeddings\": false}";
        JvmBackend be = new JvmBackend();
        long[] peaks = new long[2];
        for (int pass = 0; pass < 2; pass++) {
            try (Scope job = Scope.open("job")) {
                CausalLM lm = (CausalLM) new LlamaFamily().create(ModelConfig.of(dir, new ObjectMapper().readTree(config)), be, DType.F32, job);
                TrainingRun.Setup s = StoriesLoraRuns.setup(lm, be, job, ResumeTest.LORA, 1e-3, 1, 0, 0, 5, null);
                List<Parameter> trainable = s.method().apply(lm.module(), s.methodConfig(), s.context());
                lm.module().setTraining(true);
                lm.module().setDropoutSeeds(s.context().dropout());
                s.context().dropout().startMicroBatch(0, 0);
                Random r = new Random(7);
                List<Example> rows = new ArrayList<>();
                for (int i = 0; i < 4; i++) {
                    long[] ids = r.longs(256, 0, 32000).toArray();
                    rows.add(new Example(ids, ids.clone()));
                }
                MicroBatch mb = MicroBatch.of(rows, 0);
                try (Scope micro = Scope.open("micro-batch")) {
                    BlockPool.trim();
                    long before = BlockPool.liveBytes();
                    BlockPool.resetPeak();
                    Tensor sum = pass == 1 ? Perplexity.nllSum(lm, mb, be) : unfused(lm, mb, be);
                    Autograd.backward(Ops.mulScalar(sum, 1.0 / mb.targetCount()));
                    peaks[pass] = BlockPool.peakBytes() - before;
                }
                assertTrue(trainable.stream().allMatch(p -> p.value().grad() != null));
            }
        }
        System.out.printf("LoRA micro-batch, Llama vocab 32000 hidden 256 x2 layers, batch 4 x 256: tensor peak %.1f MB with logits, %.1f MB fused (%.0f%% lower)%n",
                peaks[0] / 1e6, peaks[1] / 1e6, 100.0 * (peaks[0] - peaks[1]) / peaks[0]);
        assertTrue(peaks[1] < peaks[0], "fused peak " + peaks[1] + ", unfused " + peaks[0]);
    }
}
