package ai.attune.api.dist;

import java.lang.foreign.MemorySegment;

/**
 * This process's membership in a data-parallel group of {@link #worldSize()} processes, each with
 * its {@link #rank()} ({@code torch.distributed}'s process group).
 *
 * <p>Rules every caller follows, as with {@code torch.distributed}:
 * <ul>
 *   <li>Every rank issues the same collectives, with buffers of the same sizes, in the same order:
 *       the engine matches operations by the order they were issued. Issue them from one thread.</li>
 *   <li>Buffers are native memory ({@link MemorySegment#isNative()}) that the collective reads and
 *       writes in place, without a copy. A buffer must stay alive and untouched from the call
 *       until its {@link Pending#await()} returns, or, after a failure, until {@link #close()}
 *       returns.</li>
 *   <li>Waits block in native code: wait on platform threads, not virtual threads.</li>
 *   <li>A {@link CollectiveException} leaves the group unusable on every rank (c10d cannot cancel
 *       an operation): every later operation fails at once, naming the first failure.</li>
 * </ul>
 */
public interface ProcessGroup extends AutoCloseable {
    /** This process's rank, in {@code [0, worldSize)}. */
    int rank();

    /** How many processes the group has. */
    int worldSize();

    /**
     * Starts summing {@code f32Buffer} over all ranks, in place ({@code dist.all_reduce(t,
     * op=SUM, async_op=True)}): once {@link Pending#await()} returns, every rank's buffer holds the
     * element-wise sum of all ranks' buffers. Returns at once; the engine's own threads move and
     * add the data, so the caller can compute meanwhile.
     *
     * @param f32Buffer native memory holding little-endian f32 values; its size is a multiple of 4
     * @throws IllegalArgumentException for a heap segment or a size that is not a multiple of 4
     * @throws CollectiveException when the group failed earlier
     */
    Pending allReduceSum(MemorySegment f32Buffer);

    /**
     * Sums a few scalars over all ranks in f64 (a token count, a loss), in place, and waits.
     *
     * @throws CollectiveException when a peer died, or the group's timeout passed
     */
    void allReduceSum(double[] values);

    /**
     * Copies {@code bytes} of rank {@code root} into the same-sized {@code bytes} of every other rank,
     * and waits ({@code dist.broadcast}).
     *
     * @throws IllegalArgumentException for a heap segment, or a root outside {@code [0, worldSize)}
     * @throws CollectiveException when a peer died, or the group's timeout passed
     */
    void broadcast(MemorySegment bytes, int root);

    /**
     * Waits until every rank has reached its barrier.
     *
     * @throws CollectiveException when a peer died, or the group's timeout passed
     */
    void barrier();

    /**
     * Leaves the group and frees what the engine holds. Blocks while an operation is still running
     * on the engine's threads (at most the group's timeout). Idempotent. Once every rank has
     * closed, the rendezvous port is free again.
     */
    @Override
    void close();

    /** A collective in flight. */
    interface Pending {
        /**
         * Waits until the collective is done, at most the group's timeout from this call.
         *
         * @throws CollectiveException when a peer died, the timeout passed, or the waiting thread
         *                             was interrupted (its interrupt status stays set); the group
         *                             is then unusable
         */
        void await();

        /** Whether {@link #await()} would return (or throw) at once. */
        boolean isDone();
    }

    /**
     * The group of one process: rank 0 of 1. Its collectives change nothing, which is what a sum or
     * a broadcast over one rank is, so a training loop runs the same code with or without peers.
     */
    static ProcessGroup single() {
        return new SingleProcessGroup();
    }
}
