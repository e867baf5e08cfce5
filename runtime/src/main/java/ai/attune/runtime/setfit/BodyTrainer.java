package ai.attune.runtime.setfit;

import ai.attune.api.autograd.Autograd;
import ai.attune.api.nn.Parameter;
import ai.attune.api.optim.GradClip;
import ai.attune.api.optim.LrSchedule;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * SetFit's first stage: contrastive fine-tuning of the sentence-transformer body on pairs of the
 * few-shot examples with {@link CosineSimilarityLoss}, as sentence-transformers' {@code fit} runs
 * it for setfit: AdamW with weight decay 0.01 except on biases and LayerNorm weights, a linear
 * schedule with warmup, gradient clipping at norm 1.
 */
public final class BodyTrainer {
    /**
     * setfit's {@code TrainingArguments} for the body.
     *
     * @param warmupProportion of all steps, rounded up ({@code math.ceil(total_steps * 0.1)})
     * @param maxGradNorm      0 turns clipping off
     * @param numIterations    > 0 selects the legacy pair sampler instead of {@code strategy}
     */
    public record Config(int batchSize, int epochs, double lr, double warmupProportion, double maxGradNorm,
                         PairSampler.Strategy strategy, int numIterations, long seed) {
        public static Config defaults(long seed) {
            return new Config(16, 1, 2e-5, 0.1, 1.0, PairSampler.Strategy.OVERSAMPLING, 0, seed);
        }
    }

    /** One optimizer update of {@code params} at {@code lr}; {@code decay} says whether weight decay applies to this group. */
    @FunctionalInterface
    public interface OptimizerStep {
        void step(List<Parameter> params, boolean decay, double lr);
    }

    /** Hears each finished step: its index (from 1), the total, and the batch's loss. */
    @FunctionalInterface
    public interface StepListener {
        void stepDone(int step, int total, double loss);
    }

    private BodyTrainer() {}

    /** The pairs an epoch trains on, as {@code config} asks. */
    public static List<PairSampler.Pair> pairs(int[] labels, Config config) {
        return config.numIterations() > 0 ? PairSampler.legacyPairs(labels, config.numIterations(), config.seed())
                : PairSampler.pairs(labels, config.strategy(), config.seed());
    }

    /** Number of optimizer steps {@link #train} will take. */
    public static int totalSteps(int pairCount, Config config) {
        return config.epochs() * ((pairCount + config.batchSize() - 1) / config.batchSize());
    }

    /**
     * Trains the embedder's encoder in place on pairs of {@code texts} (classes {@code labels})
     * and returns the loss of every step. The module is in training mode during the run.
     */
    public static List<Double> train(SentenceEmbedder embedder, List<String> texts, int[] labels, Config config,
                                     OptimizerStep optimizer, StepListener listener) {
        var module = embedder.encoder().module();
        List<Parameter> decay = new ArrayList<>();
        List<Parameter> noDecay = new ArrayList<>();
        for (Map.Entry<String, Parameter> e : module.namedParameters().entrySet()) {
            if (e.getValue().trainable()) {
                (isNoDecay(e.getKey()) ? noDecay : decay).add(e.getValue());
            }
        }
        List<Parameter> all = new ArrayList<>(decay);
        all.addAll(noDecay);

        List<PairSampler.Pair> pairs = pairs(labels, config);
        int total = totalSteps(pairs.size(), config);
        LrSchedule schedule = LrSchedule.linear(config.lr(), (int) Math.ceil(config.warmupProportion() * total), total);
        Random order = new Random(config.seed());
        List<Double> losses = new ArrayList<>();
        boolean wasTraining = module.isTraining();
        module.setTraining(true);
        try {
            int step = 0;
            for (int epoch = 0; epoch < config.epochs(); epoch++) {
                List<PairSampler.Pair> epochPairs = new ArrayList<>(pairs);
                Collections.shuffle(epochPairs, order); // the dataloader's shuffle=True
                for (int start = 0; start < epochPairs.size(); start += config.batchSize()) {
                    List<PairSampler.Pair> batch = epochPairs.subList(start, Math.min(epochPairs.size(), start + config.batchSize()));
                    double loss = step(embedder, texts, batch, all);
                    if (config.maxGradNorm() > 0) {
                        GradClip.clipGradNorm(all, config.maxGradNorm());
                    }
                    double lr = schedule.lr(step);
                    optimizer.step(decay, true, lr);
                    optimizer.step(noDecay, false, lr);
                    zeroInPlace(all);
                    losses.add(loss);
                    step++;
                    listener.stepDone(step, total, loss);
                }
            }
        } finally {
            module.setTraining(wasTraining);
        }
        return losses;
    }

    /** Forward and backward of one batch: both sides of every pair in one [2 * batch, dim] forward. */
    private static double step(SentenceEmbedder embedder, List<String> texts, List<PairSampler.Pair> batch, List<Parameter> params) {
        List<String> stacked = new ArrayList<>(2 * batch.size());
        double[] targets = new double[batch.size()];
        for (int i = 0; i < batch.size(); i++) {
            stacked.add(texts.get(batch.get(i).first()));
            targets[i] = batch.get(i).label();
        }
        for (PairSampler.Pair p : batch) {
            stacked.add(texts.get(p.second()));
        }
        try (Scope s = Scope.open("setfit-step")) {
            Tensor both = embedder.embed(stacked); // [2 * batch, dim]
            Tensor target = Tensors.of(both.backend(), both.dtype() == DType.F64 ? DType.F64 : DType.F32, targets, batch.size());
            Tensor loss = CosineSimilarityLoss.lossOfStacked(both, target);
            Autograd.backward(loss);
            return Tensors.item(loss);
        }
    }

    /**
     * Zeroes gradients in place rather than dropping them ({@code zero_grad(set_to_none=False)}):
     * the engine allocates a dropped gradient anew in the parameter's long-lived scope, so a full
     * fine-tune would leak a model's worth of memory every step.
     */
    private static void zeroInPlace(List<Parameter> params) {
        for (Parameter p : params) {
            if (p.grad() != null) {
                p.grad().backend().fill(p.grad(), 0.0);
            }
        }
    }

    /** sentence-transformers' {@code no_decay = ["bias", "LayerNorm.bias", "LayerNorm.weight"]}. */
    static boolean isNoDecay(String name) {
        return name.contains("bias") || name.contains("LayerNorm.weight");
    }
}
