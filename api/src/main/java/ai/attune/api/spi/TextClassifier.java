package ai.attune.api.spi;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.LongConsumer;

/** A fitted text classifier: a body that embeds texts and a head over the embeddings. */
public interface TextClassifier {
    /** The class names; probabilities come in this order. */
    List<String> classes();

    /** {@code predict_proba}: per text, one probability per class. {@code progress} hears texts done. */
    double[][] predictProba(List<String> texts, LongConsumer progress);

    /** The most probable class of each text (the first on a tie, as numpy's argmax). */
    default List<String> predict(List<String> texts, LongConsumer progress) {
        List<String> out = new ArrayList<>(texts.size());
        for (double[] p : predictProba(texts, progress)) {
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
