package ai.attune.runtime.classify;

import java.util.List;

/**
 * Accuracy, macro-F1 (sklearn's {@code f1_score(average="macro")}: the unweighted mean of the
 * per-class F1, a class never predicted nor present counting 0) and the confusion matrix
 * (rows true class, columns predicted), over class indices into {@code classes}.
 */
public record ClassificationMetrics(List<String> classes, int[][] confusion) {
    public static ClassificationMetrics of(List<String> classes, int[] truth, int[] predicted) {
        int[][] m = new int[classes.size()][classes.size()];
        for (int i = 0; i < truth.length; i++) {
            m[truth[i]][predicted[i]]++;
        }
        return new ClassificationMetrics(classes, m);
    }

    public double accuracy() {
        long right = 0;
        long all = 0;
        for (int t = 0; t < confusion.length; t++) {
            for (int p = 0; p < confusion.length; p++) {
                all += confusion[t][p];
                right += t == p ? confusion[t][p] : 0;
            }
        }
        return all == 0 ? 0 : (double) right / all;
    }

    public double macroF1() {
        double sum = 0;
        for (int k = 0; k < confusion.length; k++) {
            int tp = confusion[k][k];
            int predicted = 0;
            int actual = 0;
            for (int j = 0; j < confusion.length; j++) {
                predicted += confusion[j][k];
                actual += confusion[k][j];
            }
            sum += predicted + actual == 0 ? 0 : 2.0 * tp / (predicted + actual);
        }
        return sum / confusion.length;
    }

    /** The confusion matrix as aligned text, one row per true class. */
    public String confusionTable() {
        int w = 9;
        for (String c : classes) {
            w = Math.max(w, c.length());
        }
        StringBuilder sb = new StringBuilder(String.format("%-" + w + "s", "true\\pred"));
        for (String c : classes) {
            sb.append("  ").append(String.format("%" + Math.max(5, c.length()) + "s", c));
        }
        sb.append('\n');
        for (int t = 0; t < classes.size(); t++) {
            sb.append(String.format("%-" + w + "s", classes.get(t)));
            for (int p = 0; p < classes.size(); p++) {
                sb.append("  ").append(String.format("%" + Math.max(5, classes.get(p).length()) + "d", confusion[t][p]));
            }
            sb.append('\n');
        }
        return sb.toString();
    }
}
