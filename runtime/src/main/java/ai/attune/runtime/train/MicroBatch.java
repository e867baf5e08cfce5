package ai.attune.runtime.train;

import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;
import ai.attune.runtime.data.Example;

import java.util.List;

/**
 * Examples right-padded to the longest one: ids and key mask [mb, t], and the next-token targets
 * [mb * t] (position t predicts labels[t + 1]; the last position and padding predict nothing).
 */
record MicroBatch(long[] ids, long[] mask, long[] targets, int rows, int length, long targetCount) {
    static final long IGNORE = -100;

    static MicroBatch of(List<Example> examples) {
        int rows = examples.size();
        int t = 1;
        for (Example e : examples) {
            t = Math.max(t, e.inputIds().length);
        }
        long[] ids = new long[rows * t];
        long[] mask = new long[rows * t];
        long[] targets = new long[rows * t];
        java.util.Arrays.fill(targets, IGNORE);
        long count = 0;
        for (int r = 0; r < rows; r++) {
            Example e = examples.get(r);
            long[] in = e.inputIds();
            long[] labels = e.labels();
            for (int j = 0; j < in.length; j++) {
                ids[r * t + j] = in[j];
                mask[r * t + j] = 1;
                if (j + 1 < in.length && labels[j + 1] != IGNORE) {
                    targets[r * t + j] = labels[j + 1];
                    count++;
                }
            }
        }
        return new MicroBatch(ids, mask, targets, rows, t, count);
    }

    Tensor idsTensor(Backend be) {
        return Tensors.ofLongs(be, ids, rows, length);
    }

    Tensor maskTensor(Backend be) {
        return Tensors.ofLongs(be, mask, rows, length);
    }

    Tensor targetsTensor(Backend be) {
        return Tensors.ofLongs(be, targets, rows * length);
    }

    long tokens() {
        long n = 0;
        for (long m : mask) {
            n += m;
        }
        return n;
    }
}
