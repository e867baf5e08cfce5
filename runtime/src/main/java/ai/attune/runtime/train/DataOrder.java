package ai.attune.runtime.train;

import java.util.SplittableRandom;

/**
 * Which example sits at each position of the training stream. The stream is the dataset repeated
 * epoch after epoch; with shuffling each epoch is a seeded permutation, so the order is a pure
 * function of (seed, position) and a resumed run reads exactly what an uninterrupted one would.
 * Without shuffling, micro-batch k of step s holds rows [(s*GA + k)*MB, ... + MB) in file order.
 */
final class DataOrder {
    private final int size;
    private final boolean shuffle;
    private final long seed;
    private long cachedEpoch = -1;
    private int[] permutation;

    DataOrder(int size, boolean shuffle, long seed) {
        if (size <= 0) {
            throw new IllegalArgumentException("the training data has no examples");
        }
        this.size = size;
        this.shuffle = shuffle;
        this.seed = seed;
    }

    int exampleAt(long position) {
        long epoch = position / size;
        int index = (int) (position % size);
        if (!shuffle) {
            return index;
        }
        if (epoch != cachedEpoch) {
            permutation = permutation(epoch);
            cachedEpoch = epoch;
        }
        return permutation[index];
    }

    /** Fisher-Yates with a generator seeded from (seed, epoch). */
    private int[] permutation(long epoch) {
        int[] p = new int[size];
        for (int i = 0; i < size; i++) {
            p[i] = i;
        }
        SplittableRandom r = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + epoch);
        for (int i = size - 1; i > 0; i--) {
            int j = r.nextInt(i + 1);
            int t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
        return p;
    }
}
