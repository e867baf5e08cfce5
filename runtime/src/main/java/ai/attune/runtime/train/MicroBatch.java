package ai.attune.runtime.train;

import ai.attune.api.data.Example;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;

import java.util.List;

/**
 * Examples right-padded to the longest one: ids and key mask [mb, t], and the next-token targets
 * [mb * (P + t)] (position t predicts labels[t + 1]; the last position and padding predict nothing).
 *
 * <p>With {@code P} virtual tokens in front (prompt tuning), the model returns logits for
 * {@code P + t} positions and the labels get {@code P} copies of -100 in front, as PEFT pads them:
 * the last virtual token predicts the first real token, which counts unless its label is -100.
 */
record MicroBatch(long[] ids, long[] mask, long[] targets, int rows, int length, int virtual, long targetCount) {
    static final long IGNORE = -100;

    static MicroBatch of(List<Example> examples) {
        return of(examples, 0);
    }

    static MicroBatch of(List<Example> examples, int virtual) {
        int rows = examples.size();
        int t = 1;
        for (Example e : examples) {
            t = Math.max(t, e.inputIds().length);
        }
        long[] ids = new long[rows * t];
        long[] mask = new long[rows * t];
        int positions = virtual + t;
        long[] targets = new long[rows * positions];
        java.util.Arrays.fill(targets, IGNORE);
        long count = 0;
        for (int r = 0; r < rows; r++) {
            Example e = examples.get(r);
            long[] in = e.inputIds();
            long[] labels = e.labels();
            if (virtual > 0 && labels.length > 0 && labels[0] != IGNORE) {
                targets[r * positions + virtual - 1] = labels[0];
                count++;
            }
            for (int j = 0; j < in.length; j++) {
                ids[r * t + j] = in[j];
                mask[r * t + j] = 1;
                if (j + 1 < in.length && labels[j + 1] != IGNORE) {
                    targets[r * positions + virtual + j] = labels[j + 1];
                    count++;
                }
            }
        }
        return new MicroBatch(ids, mask, targets, rows, t, virtual, count);
    }

    Tensor idsTensor(Backend be) {
        return Tensors.ofLongs(be, ids, rows, length);
    }

    Tensor maskTensor(Backend be) {
        return Tensors.ofLongs(be, mask, rows, length);
    }

    Tensor targetsTensor(Backend be) {
        return Tensors.ofLongs(be, targets, rows * (virtual + length));
    }

    long tokens() {
        long n = 0;
        for (long m : mask) {
            n += m;
        }
        return n;
    }
}
