package ai.attune.runtime.plan;

import java.util.Map;
import java.util.TreeMap;

/**
 * The tensor service's block pool ({@code api/tensor/BlockPool}) replayed on sizes alone. A request
 * takes the smallest cached block of at least its size and at most twice it, else a new block;
 * what is given back is cached by size. So a tensor can occupy up to twice its bytes, and a
 * gradient or optimizer state first allocated while a step's activations sit in the cache keeps
 * such a block for the whole job: the live bytes it counts are what the process really holds.
 */
final class PoolReplay {
    private final TreeMap<Long, Integer> cached = new TreeMap<>();
    private long live;
    private long peak;

    /** A block for {@code bytes} (already rounded to the granule); its size, or 0 for no tensor. */
    long take(long bytes) {
        if (bytes == 0) {
            return 0;
        }
        Map.Entry<Long, Integer> e = cached.ceilingEntry(bytes);
        long block = bytes;
        if (e != null && e.getKey() <= 2 * bytes) {
            block = e.getKey();
            if (e.getValue() == 1) {
                cached.remove(block);
            } else {
                cached.put(block, e.getValue() - 1);
            }
        }
        live += block;
        peak = Math.max(peak, live);
        return block;
    }

    /** Gives a block back to the cache. */
    void give(long block) {
        if (block != 0) {
            live -= block;
            cached.merge(block, 1, Integer::sum);
        }
    }

    long live() {
        return live;
    }

    long peak() {
        return peak;
    }
}
