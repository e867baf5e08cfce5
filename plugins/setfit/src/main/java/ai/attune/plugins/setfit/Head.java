package ai.attune.plugins.setfit;

import java.util.List;

/** A classifier head over sentence embeddings: logistic regression or the differentiable linear head. */
sealed interface Head permits LogisticRegressionHead, DifferentiableHead {
    /** Class names, sorted; probabilities come in this order. */
    List<String> classes();

    /** {@code predict_proba} of one embedding. */
    double[] probabilities(double[] embedding);

    /** {@code predict_proba} of each embedding. */
    default double[][] probabilities(double[][] embeddings) {
        double[][] out = new double[embeddings.length][];
        for (int i = 0; i < out.length; i++) {
            out[i] = probabilities(embeddings[i]);
        }
        return out;
    }
}
