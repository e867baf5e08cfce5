package ai.attune.api.data;

import java.util.Arrays;

/**
 * One tokenized training example. {@code labels} is aligned with {@code inputIds} as in Hugging Face
 * (the loss shifts them by one), and {@link #IGNORE} marks positions without loss.
 */
public record Example(long[] inputIds, long[] labels) {
    /** PyTorch's {@code CrossEntropyLoss(ignore_index=-100)}, which every HF trainer uses. */
    public static final long IGNORE = -100;

    public Example {
        if (inputIds.length != labels.length) {
            throw new IllegalArgumentException("input_ids has " + inputIds.length + " tokens but labels has " + labels.length);
        }
    }

    public int length() {
        return inputIds.length;
    }

    /**
     * Tokens that contribute to the loss. Position 0 never does: after the shift, labels[0] is
     * nothing's target.
     */
    public int lossTokens() {
        int n = 0;
        for (int t = 1; t < labels.length; t++) {
            if (labels[t] != IGNORE) {
                n++;
            }
        }
        return n;
    }

    /** The first {@code n} tokens (truncation keeps the head, as HF's {@code truncation_side="right"}). */
    public Example head(int n) {
        return n >= inputIds.length ? this : new Example(Arrays.copyOf(inputIds, n), Arrays.copyOf(labels, n));
    }
}
