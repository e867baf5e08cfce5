package ai.attune.runtime.setfit;

import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.function.IntConsumer;

/** A sentence-transformer body and a classifier head over its embeddings: setfit's {@code SetFitModel}. */
public record SetFitClassifier(SentenceEmbedder body, LogisticRegressionHead head) {
    /** Texts embedded per forward when predicting. */
    public static final int ENCODE_BATCH = 32;

    /** Fits a head on the body's embeddings of {@code texts}; classes are the sorted distinct labels. */
    public static SetFitClassifier fit(SentenceEmbedder body, List<String> texts, List<String> labels, IntConsumer progress) {
        List<String> classes = new ArrayList<>(new TreeSet<>(labels));
        double[][] x = body.encode(texts, ENCODE_BATCH, progress);
        return new SetFitClassifier(body, LogisticRegressionHead.fit(x, indices(labels, classes), classes, LogisticRegressionHead.DEFAULT_C));
    }

    /** The most probable class of each text. */
    public List<String> predict(List<String> texts, IntConsumer progress) {
        List<String> out = new ArrayList<>(texts.size());
        for (double[] e : body.encode(texts, ENCODE_BATCH, progress)) {
            out.add(head.predictLabel(e));
        }
        return out;
    }

    /** Each label's position in {@code classes}, -1 for one not there (an eval label the training set lacks). */
    public static int[] indices(List<String> labels, List<String> classes) {
        int[] y = new int[labels.size()];
        for (int i = 0; i < y.length; i++) {
            y[i] = classes.indexOf(labels.get(i));
        }
        return y;
    }
}
