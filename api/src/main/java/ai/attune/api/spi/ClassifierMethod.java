package ai.attune.api.spi;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * A text-classification method over a sentence encoder (SetFit), registered with
 * {@code attune.classifier=<name>}. The host loads the body, samples the few-shot set and scores
 * the result; the method trains the body and a head and saves or reloads the pair.
 *
 * @param <C> the config record, bound from the recipe's block of the method's name or from the
 *            command line's options, with the method's own key names
 */
public interface ClassifierMethod<C> {
    String PROPERTY = "attune.classifier";

    Class<C> configType();

    /** The config with the method's defaults. */
    C defaultConfig();

    /**
     * {@code config} with the body left as it is: only the head is fitted, on the frozen embeddings
     * (the baseline). A classifier fitted with it embeds texts as the loaded encoder does, whatever
     * the seed and the training texts, so a host may reuse its {@link TextClassifier#embed} of the
     * same texts across runs that load the same body with the same config apart from the seed.
     */
    C frozenBody(C config);

    /**
     * Fits a classifier on {@code texts} with classes {@code labels} (one per text, at least two
     * distinct). The context's encoder is trained in place when the config asks for it, so a
     * classifier fitted earlier on the same encoder must be used before this is called.
     */
    TextClassifier fit(List<String> texts, List<String> labels, C config, ClassifierContext context) throws IOException;

    /** Reloads a classifier that {@link TextClassifier#save} wrote; the context's encoder is the directory's body. */
    TextClassifier load(Path dir, ClassifierContext context) throws IOException;
}
