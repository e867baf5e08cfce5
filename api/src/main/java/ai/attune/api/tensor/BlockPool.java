package ai.attune.api.tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.TreeMap;

/**
 * The native memory behind tensor storage: blocks handed to scopes and, when a scope closes or
 * autograd releases a storage it no longer needs, kept by size for the next request instead of
 * going back to the operating system — PyTorch's caching allocator, on the host. A training loop
 * asks for the same sizes every micro-batch (logits, their gradients), so after the first one no
 * large tensor is mapped and unmapped again.
 *
 * <p>A request takes the smallest cached block of at least its size and at most twice it (so a
 * small tensor never pins a large block); sizes are rounded up to 512 bytes. What it holds, in
 * use and cached, stays within a quarter above the most it ever had in use at once: a request no
 * cached block fits first frees cached blocks, the least recently returned first. Both rules are
 * for a training step whose shapes change from step to step (a batch padded to its longest
 * text): its requests come back in the blocks of the step before, and the blocks a miss frees are
 * those of shapes that did not come back. With no room above the high-water mark and the largest
 * freed first, SetFit's quickstart freed and mapped its two 47 MB word-embedding gradients and
 * most activations on every step, and spent a sixth of its CPU time faulting fresh pages in
 * (1.56 M page faults; 0.4 M now, its body training 30% faster). The pool also counts
 * what it has handed out: {@link #liveBytes()}, {@link #peakBytes()} since {@link #resetPeak()},
 * and {@link #reservedBytes()} (live plus cached), the tensor service's own view of its memory.
 * {@link #trim()} frees the cache; it runs when a thread's outermost scope closes.
 *
 * <p>Blocks of a MiB and more are mapped from the kernel ({@link PageMapping}): a tensor costs
 * resident memory only for the pages written, so a weight that is allocated and then replaced
 * before it is loaded (a Linear weight a quantized source stands for) never does.
 *
 * <p>With {@code -Dattune.pool.poison=true} a block is filled with 0xFF (NaN for every float
 * dtype) when it comes back, so a read of storage after its release shows up in results.
 */
public final class BlockPool {
    private static final long GRANULE = 512;
    private static final long ALIGN = 64;
    private static final boolean POISON = Boolean.getBoolean("attune.pool.poison");
    private static final BlockPool SHARED = new BlockPool();

    /** One native allocation: its own arena, so it can be freed alone. */
    record Block(Arena arena, MemorySegment memory) {
        long size() {
            return memory.byteSize();
        }
    }

    private final TreeMap<Long, ArrayDeque<Block>> cached = new TreeMap<>();
    /** The cached blocks in the order they came back, oldest first. */
    private final LinkedHashSet<Block> byAge = new LinkedHashSet<>();
    private long live;
    private long peak;
    private long cachedBytes;
    private long highWater;

    private BlockPool() {}

    static BlockPool shared() {
        return SHARED;
    }

    /** A block of at least {@code bytes}, zero-filled when asked; a fresh block is always zero. */
    synchronized Block take(long bytes, boolean zeroed) {
        long size = Math.max(GRANULE, (bytes + GRANULE - 1) / GRANULE * GRANULE);
        Map.Entry<Long, ArrayDeque<Block>> e = cached.ceilingEntry(size);
        Block b;
        if (e != null && e.getKey() <= 2 * size) {
            b = e.getValue().pop();
            if (e.getValue().isEmpty()) {
                cached.remove(e.getKey());
            }
            byAge.remove(b);
            cachedBytes -= b.size();
            if (zeroed) {
                b.memory().asSlice(0, bytes).fill((byte) 0); // the caller sees only these bytes
            }
        } else {
            // Hold no more from the system than a quarter above the most ever in use: a miss first
            // frees cached blocks, the least recently returned first.
            Iterator<Block> oldestFirst = byAge.iterator();
            while (oldestFirst.hasNext() && live + cachedBytes + size > highWater + highWater / 4) {
                Block evicted = oldestFirst.next();
                oldestFirst.remove();
                ArrayDeque<Block> sameSize = cached.get(evicted.size());
                sameSize.remove(evicted);
                if (sameSize.isEmpty()) {
                    cached.remove(evicted.size());
                }
                cachedBytes -= evicted.size();
                evicted.arena().close();
            }
            Arena arena = Arena.ofShared();
            MemorySegment mapped = PageMapping.map(size, arena);
            b = new Block(arena, mapped != null ? mapped : arena.allocate(size, ALIGN));
        }
        live += b.size();
        peak = Math.max(peak, live);
        highWater = Math.max(highWater, live);
        return b;
    }

    /** Takes a block back into the cache. */
    synchronized void give(Block b) {
        if (POISON) {
            b.memory().fill((byte) 0xFF);
        }
        live -= b.size();
        cachedBytes += b.size();
        cached.computeIfAbsent(b.size(), k -> new ArrayDeque<>()).push(b);
        byAge.add(b);
    }

    /** Frees every cached block ({@code torch.cuda.empty_cache} for the host). */
    public static void trim() {
        SHARED.freeCache();
    }

    private synchronized void freeCache() {
        for (ArrayDeque<Block> q : cached.values()) {
            for (Block b : q) {
                b.arena().close();
            }
        }
        cached.clear();
        byAge.clear();
        cachedBytes = 0;
        highWater = live;
    }

    /** Bytes of tensor storage in use now. */
    public static long liveBytes() {
        synchronized (SHARED) {
            return SHARED.live;
        }
    }

    /** The most bytes in use at once since the last {@link #resetPeak()}. */
    public static long peakBytes() {
        synchronized (SHARED) {
            return SHARED.peak;
        }
    }

    /** Starts a new peak measurement from what is in use now. */
    public static void resetPeak() {
        synchronized (SHARED) {
            SHARED.peak = SHARED.live;
        }
    }

    /** Bytes held from the operating system: in use plus cached. */
    public static long reservedBytes() {
        synchronized (SHARED) {
            return SHARED.live + SHARED.cachedBytes;
        }
    }
}
