package ai.attune.plugins.setfit;

import java.util.List;

/** A classifier head over sentence embeddings: logistic regression or the differentiable linear head. */
sealed interface Head permits LogisticRegressionHead, DifferentiableHead {
    /** Class names, sorted; probabilities come in this order. */
    List<String> classes();

    /** {@code predict_proba} of one embedding. */
    double[] probabilities(double[] embedding);
}
