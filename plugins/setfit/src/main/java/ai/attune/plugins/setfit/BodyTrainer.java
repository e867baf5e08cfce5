package ai.attune.plugins.setfit;

import ai.attune.api.autograd.Autograd;
import ai.attune.api.nn.DropoutSeeds;
import ai.attune.api.nn.Embedding;
import ai.attune.api.nn.Module;
import ai.attune.api.nn.Parameter;
import ai.attune.api.optim.GradClip;
import ai.attune.api.optim.LrSchedule;
import ai.attune.api.spi.TrainingThroughput;
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
 * SetFit's first stage: contrastive fine-tuning of the sentence-transformer body on the few-shot
 * examples, as sentence-transformers' {@code fit} runs it for setfit: AdamW with weight decay 0.01
 * except on biases and LayerNorm weights, a linear schedule with warmup, gradient clipping. Pair
 * losses train on {@link PairSampler}'s pairs; the triplet losses on {@link LabelBatches}.
 * Gradients of both sides of a pair flow into the same weights (one shared tower).
 */
final class BodyTrainer {
    /** Hears each finished step: its index (from 1), the total, and the batch's loss. */
    @FunctionalInterface
    interface StepListener {
        void stepDone(int step, int total, double loss);
    }

    /** One epoch's batches: text indices, and for pair losses the pairs' targets. */
    private record Batch(List<Integer> texts, double[] targets) {}

    /** Every step's loss, and what the steps cost. */
    record Result(List<Double> losses, TrainingThroughput throughput) {}

    private final SetFitConfig config;
    private final ContrastiveLoss loss;
    private final int[] labels;
    private final List<PairSampler.Pair> pairs;

    BodyTrainer(int[] labels, SetFitConfig config) {
        this.config = config;
        this.loss = ContrastiveLoss.of(config.loss());
        this.labels = labels;
        this.pairs = switch (loss.batching()) {
            case PAIRS -> pairsOf(labels, config);
            // In-batch negatives replace the sampled ones: only same-class pairs are positives.
            case POSITIVE_PAIRS -> pairsOf(labels, config).stream().filter(p -> p.label() == 1.0).toList();
            case LABELS -> List.of();
        };
    }

    /** The pairs an epoch trains on, as {@code config} asks. */
    static List<PairSampler.Pair> pairsOf(int[] labels, SetFitConfig config) {
        return config.numIterations() != null ? PairSampler.legacyPairs(labels, config.numIterations(), config.seed())
                : PairSampler.pairs(labels, PairSampler.Strategy.of(config.samplingStrategy()), config.seed());
    }

    /** Optimizer steps {@link #train} will take. */
    int totalSteps() {
        int perEpoch = switch (loss.batching()) {
            case PAIRS, POSITIVE_PAIRS -> (pairs.size() + config.bodyBatchSize() - 1) / config.bodyBatchSize();
            // DataLoader(drop_last=True) over the label-ordered texts, batch capped at their number.
            case LABELS -> {
                int n = LabelBatches.order(labels, config.samplesPerLabel(), new Random(config.seed())).size();
                yield n == 0 ? 0 : n / Math.min(config.bodyBatchSize(), n);
            }
        };
        int total = config.bodyEpochs() * perEpoch;
        return config.maxSteps() > 0 ? Math.min(total, config.maxSteps()) : total;
    }

    /**
     * Trains the embedder's encoder in place on {@code texts} and returns the loss of every step
     * with the steps' throughput. The module is in training mode during the run.
     */
    Result train(SentenceEmbedder embedder, List<String> texts, Optimizers optimizer, StepListener listener) {
        Module module = embedder.encoder().module();
        List<Parameter> decay = new ArrayList<>();
        List<Parameter> noDecay = new ArrayList<>();
        // An embedding table is looked up, not multiplied: its rows cost no FLOPs (BERT's head is no tied projection).
        long parameters = -module.namedModules().values().stream().filter(m -> m instanceof Embedding)
                .mapToLong(m -> ((Embedding) m).weight().value().numel()).sum();
        for (Map.Entry<String, Parameter> e : module.namedParameters().entrySet()) {
            parameters += e.getValue().value().numel();
            if (e.getValue().trainable()) {
                (isNoDecay(e.getKey()) ? noDecay : decay).add(e.getValue());
            }
        }
        List<Parameter> all = new ArrayList<>(decay);
        all.addAll(noDecay);

        int total = totalSteps();
        LrSchedule schedule = LrSchedule.linear(config.bodyLearningRate().get(0), (int) Math.ceil(config.warmupProportion() * total), total);
        Random order = new Random(config.seed());
        List<Double> losses = new ArrayList<>();
        boolean wasTraining = module.isTraining();
        module.setTraining(true);
        DropoutSeeds seeds = new DropoutSeeds(config.seed());
        module.setDropoutSeeds(seeds); // the body trains with its dropout on, as model.train() in torch
        long tokens = 0;
        long padded = 0;
        long start = System.nanoTime();
        try {
            int step = 0;
            for (int epoch = 0; epoch < config.bodyEpochs() && step < total; epoch++) {
                for (Batch batch : epoch(order)) {
                    if (step == total) {
                        break;
                    }
                    List<String> batchTexts = batch.texts().stream().map(texts::get).toList();
                    for (String t : batchTexts) {
                        tokens += embedder.length(t);
                    }
                    padded += (long) batchTexts.size() * embedder.paddedLength(batchTexts);
                    seeds.startMicroBatch(step, 0);
                    double value = step(embedder, batchTexts, batch);
                    if (config.maxGradNorm() > 0) {
                        GradClip.clipGradNorm(all, config.maxGradNorm());
                    }
                    double lr = schedule.lr(step);
                    optimizer.step(decay, 0.01, lr);
                    optimizer.step(noDecay, 0.0, lr);
                    Optimizers.zeroGrad(all);
                    losses.add(value);
                    step++;
                    listener.stepDone(step, total, value);
                }
            }
        } finally {
            module.setTraining(wasTraining);
            module.setDropoutSeeds(null);
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        return new Result(losses, new TrainingThroughput(losses.size(), seconds, tokens, padded, parameters));
    }

    /** One epoch's batches in a fresh random order (the dataloader's shuffle). */
    private List<Batch> epoch(Random order) {
        List<Batch> out = new ArrayList<>();
        if (loss.batching() == ContrastiveLoss.Batching.LABELS) {
            List<Integer> texts = LabelBatches.order(labels, config.samplesPerLabel(), order);
            int size = Math.min(config.bodyBatchSize(), texts.size());
            for (int start = 0; start + size <= texts.size() && size > 0; start += size) {
                out.add(new Batch(texts.subList(start, start + size), null));
            }
            return out;
        }
        List<PairSampler.Pair> shuffled = new ArrayList<>(pairs);
        Collections.shuffle(shuffled, order);
        for (int start = 0; start < shuffled.size(); start += config.bodyBatchSize()) {
            List<PairSampler.Pair> batch = shuffled.subList(start, Math.min(shuffled.size(), start + config.bodyBatchSize()));
            // Both sides of every pair in one [2 * batch, dim] forward: the first sentences, then the second ones.
            List<Integer> stacked = new ArrayList<>(2 * batch.size());
            double[] targets = new double[batch.size()];
            for (int i = 0; i < batch.size(); i++) {
                stacked.add(batch.get(i).first());
                targets[i] = batch.get(i).label();
            }
            batch.forEach(p -> stacked.add(p.second()));
            out.add(new Batch(stacked, targets));
        }
        return out;
    }

    /** Forward and backward of one batch ({@code batchTexts} are its texts); returns its loss. */
    private double step(SentenceEmbedder embedder, List<String> batchTexts, Batch batch) {
        try (Scope s = Scope.open("setfit-step")) {
            Tensor embeddings = embedder.embed(batchTexts); // [batch texts, dim]
            Tensor value = switch (loss) {
                case COSINE_SIMILARITY -> CosineSimilarityLoss.lossOfStacked(embeddings,
                        Tensors.of(embeddings.backend(), embeddings.dtype() == DType.F64 ? DType.F64 : DType.F32, batch.targets(), batch.targets().length));
                case MULTIPLE_NEGATIVES_RANKING -> MultipleNegativesRankingLoss.lossOfStacked(embeddings);
                case BATCH_HARD_TRIPLET -> BatchTripletLoss.batchHard(embeddings, labelsOf(batch), TripletDistance.of(config.distanceMetric()), config.margin());
                case BATCH_ALL_TRIPLET -> BatchTripletLoss.batchAll(embeddings, labelsOf(batch), TripletDistance.of(config.distanceMetric()), config.margin());
            };
            Autograd.backward(value);
            return Tensors.item(value);
        }
    }

    private int[] labelsOf(Batch batch) {
        return batch.texts().stream().mapToInt(i -> labels[i]).toArray();
    }

    /** sentence-transformers' {@code no_decay = ["bias", "LayerNorm.bias", "LayerNorm.weight"]}. */
    static boolean isNoDecay(String name) {
        return name.contains("bias") || name.contains("LayerNorm.weight");
    }
}
