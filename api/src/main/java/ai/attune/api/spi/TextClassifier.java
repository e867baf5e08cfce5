package ai.attune.api.spi;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.LongConsumer;

/**
 * A fitted text classifier: a body that embeds texts and a head over the embeddings. The two
 * halves are reachable apart so that a host can embed an eval set once with a body it knows is
 * unchanged (see {@link ClassifierMethod#frozenBody}) and score several heads on it.
 */
public interface TextClassifier {
    /** The class names; probabilities come in this order. */
    List<String> classes();

    /** The body's sentence embeddings, one row per text, as the head sees them. {@code progress} hears texts done. */
    double[][] embed(List<String> texts, LongConsumer progress);

    /** The head's {@code predict_proba} of embeddings from {@link #embed}: per row, one probability per class. */
    double[][] predictProba(double[][] embeddings);

    /** {@code predict_proba}: per text, one probability per class. {@code progress} hears texts done. */
    default double[][] predictProba(List<String> texts, LongConsumer progress) {
        return predictProba(embed(texts, progress));
    }

    /** The most probable class of each text. */
    default List<String> predict(List<String> texts, LongConsumer progress) {
        return predict(embed(texts, progress));
    }

    /** The most probable class of each embedding row (the first on a tie, as numpy's argmax). */
    default List<String> predict(double[][] embeddings) {
        List<String> out = new ArrayList<>(embeddings.length);
        for (double[] p : predictProba(embeddings)) {
            int best = 0;
            for (int k = 1; k < p.length; k++) {
                if (p[k] > p[best]) {
                    best = k;
                }
            }
            out.add(classes().get(best));
        }
        return out;
    }

    /** Writes the classifier to {@code out}, which must not exist; it appears whole or not at all. */
    void save(Path out) throws IOException;
}
