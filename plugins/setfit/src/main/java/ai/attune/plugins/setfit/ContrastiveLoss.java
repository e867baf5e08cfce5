package ai.attune.plugins.setfit;

import java.util.Arrays;

/**
 * The body stage's losses, by their sentence-transformers class names, and what each trains on:
 * pairs with a similarity target, positive pairs with in-batch negatives, or batches of labelled
 * texts from which the loss mines its own triplets.
 */
public enum ContrastiveLoss {
    COSINE_SIMILARITY("CosineSimilarityLoss", Batching.PAIRS),
    MULTIPLE_NEGATIVES_RANKING("MultipleNegativesRankingLoss", Batching.POSITIVE_PAIRS),
    BATCH_HARD_TRIPLET("BatchHardTripletLoss", Batching.LABELS),
    BATCH_ALL_TRIPLET("BatchAllTripletLoss", Batching.LABELS);

    /** How a loss's batches are made. */
    public enum Batching { PAIRS, POSITIVE_PAIRS, LABELS }

    private final String className;
    private final Batching batching;

    ContrastiveLoss(String className, Batching batching) {
        this.className = className;
        this.batching = batching;
    }

    public String className() {
        return className;
    }

    public Batching batching() {
        return batching;
    }

    public static ContrastiveLoss of(String name) {
        for (ContrastiveLoss l : values()) {
            if (l.className.equals(name)) {
                return l;
            }
        }
        throw new IllegalArgumentException("unknown loss '" + name + "'; known: "
                + Arrays.stream(values()).map(ContrastiveLoss::className).toList());
    }
}
