package ai.attune.plugins.setfit;

import com.fasterxml.jackson.annotation.JsonFormat;
import com.fasterxml.jackson.annotation.JsonProperty;

import java.util.List;

/**
 * setfit's {@code TrainingArguments}, with its key names and defaults. As there, {@code batch_size},
 * {@code num_epochs} and {@code body_learning_rate} are pairs: the first value is for the
 * contrastive body stage, the second for the classifier stage (the differentiable head, and the
 * body when {@code end_to_end}); one number sets both. {@code use_differentiable_head} is the
 * argument setfit takes when loading the model, here so one block configures a run.
 *
 * @param batchSize             pairs per body step; texts per head step
 * @param numEpochs             body epochs (0 keeps the body as it is: the frozen baseline); head epochs
 * @param bodyLearningRate      body lr in the contrastive stage; in the end-to-end classifier stage
 * @param headLearningRate      the differentiable head's lr
 * @param l2Weight              AdamW weight decay in the classifier stage
 * @param maxSteps              caps the body's steps when > 0
 * @param samplingStrategy      {@code oversampling}, {@code undersampling} or {@code unique}
 * @param numIterations         when set, the legacy sampler: per text and iteration one positive and one negative pair
 * @param loss                  the contrastive loss, by its sentence-transformers class name
 * @param distanceMetric        the triplet losses' distance: {@code cosine_distance} or {@code euclidean_distance}
 * @param margin                the triplet losses' margin
 * @param samplesPerLabel       texts of one label drawn together into a triplet loss's batch
 * @param warmupProportion      of the body's steps spent warming the lr up
 * @param maxGradNorm           body gradient clipping (0 turns it off)
 * @param endToEnd              also train the body while training a differentiable head
 * @param useDifferentiableHead a linear softmax head trained with AdamW instead of logistic regression
 * @param maxLength             truncation in tokens; null keeps the body's {@code max_seq_length}
 * @param seed                  pairs, batch order and head initialisation
 */
public record SetFitConfig(
        @JsonProperty("batch_size") @JsonFormat(with = JsonFormat.Feature.ACCEPT_SINGLE_VALUE_AS_ARRAY) List<Integer> batchSize,
        @JsonProperty("num_epochs") @JsonFormat(with = JsonFormat.Feature.ACCEPT_SINGLE_VALUE_AS_ARRAY) List<Integer> numEpochs,
        @JsonProperty("body_learning_rate") @JsonFormat(with = JsonFormat.Feature.ACCEPT_SINGLE_VALUE_AS_ARRAY) List<Double> bodyLearningRate,
        @JsonProperty("head_learning_rate") double headLearningRate,
        @JsonProperty("l2_weight") double l2Weight,
        @JsonProperty("max_steps") int maxSteps,
        @JsonProperty("sampling_strategy") String samplingStrategy,
        @JsonProperty("num_iterations") Integer numIterations,
        @JsonProperty("loss") String loss,
        @JsonProperty("distance_metric") String distanceMetric,
        @JsonProperty("margin") double margin,
        @JsonProperty("samples_per_label") int samplesPerLabel,
        @JsonProperty("warmup_proportion") double warmupProportion,
        @JsonProperty("max_grad_norm") double maxGradNorm,
        @JsonProperty("end_to_end") boolean endToEnd,
        @JsonProperty("use_differentiable_head") boolean useDifferentiableHead,
        @JsonProperty("max_length") Integer maxLength,
        @JsonProperty("seed") long seed) {

    public static final SetFitConfig DEFAULTS = new SetFitConfig(List.of(16, 2), List.of(1, 16), List.of(2e-5, 1e-5), 1e-2, 1e-2, -1,
            "oversampling", null, ContrastiveLoss.COSINE_SIMILARITY.className(), "cosine_distance", 0.25, 2, 0.1, 1.0, false, false, null, 42);

    public SetFitConfig {
        batchSize = pair("batch_size", batchSize);
        numEpochs = pair("num_epochs", numEpochs);
        bodyLearningRate = pair("body_learning_rate", bodyLearningRate);
        if (batchSize.get(0) < 1 || batchSize.get(1) < 1) {
            throw new IllegalArgumentException("batch_size must be >= 1, got " + batchSize);
        }
        if (numEpochs.get(0) < 0 || numEpochs.get(1) < 0) {
            throw new IllegalArgumentException("num_epochs must be >= 0, got " + numEpochs);
        }
        if (!(bodyLearningRate.get(0) >= 0 && bodyLearningRate.get(1) >= 0 && headLearningRate >= 0)) {
            throw new IllegalArgumentException("learning rates must be >= 0, got body " + bodyLearningRate + ", head " + headLearningRate);
        }
        if (!(l2Weight >= 0)) {
            throw new IllegalArgumentException("l2_weight must be >= 0, got " + l2Weight);
        }
        PairSampler.Strategy.of(samplingStrategy);
        ContrastiveLoss.of(loss);
        TripletDistance.of(distanceMetric);
        if (numIterations != null && numIterations < 1) {
            throw new IllegalArgumentException("num_iterations must be >= 1 when set, got " + numIterations);
        }
        if (samplesPerLabel < 2) {
            throw new IllegalArgumentException("samples_per_label must be >= 2 (a triplet needs a positive), got " + samplesPerLabel);
        }
        if (!(warmupProportion >= 0 && warmupProportion <= 1)) {
            throw new IllegalArgumentException("warmup_proportion must be in [0, 1], got " + warmupProportion);
        }
        if (maxLength != null && maxLength < 2) {
            throw new IllegalArgumentException("max_length must be >= 2, got " + maxLength);
        }
    }

    /** One value for both stages, or a pair (body, classifier). */
    private static <T> List<T> pair(String key, List<T> values) {
        if (values == null || values.isEmpty() || values.size() > 2 || values.stream().anyMatch(v -> v == null)) {
            throw new IllegalArgumentException(key + " must be a number or a pair [body, classifier], got " + values);
        }
        return values.size() == 1 ? List.of(values.get(0), values.get(0)) : List.copyOf(values);
    }

    int bodyBatchSize() {
        return batchSize.get(0);
    }

    int headBatchSize() {
        return batchSize.get(1);
    }

    int bodyEpochs() {
        return numEpochs.get(0);
    }

    int headEpochs() {
        return numEpochs.get(1);
    }
}
