package ai.attune.api.nn;

/**
 * Where dropout layers get their seeds: a deterministic sequence per (run seed, step, micro-batch),
 * so a resumed run draws exactly the masks an uninterrupted one would. The trainer starts each
 * micro-batch; every dropout call in the forward then takes the next seed in call order.
 */
public final class DropoutSeeds {
    private final long base;
    private long stream;
    private long counter;

    public DropoutSeeds(long base) {
        this.base = base;
    }

    /** Restarts the sequence for micro-batch {@code micro} of optimizer step {@code step}. */
    public void startMicroBatch(long step, int micro) {
        this.stream = mix(mix(base, step), micro);
        this.counter = 0;
    }

    /** The next seed of the current micro-batch. */
    public long next() {
        return mix(stream, counter++);
    }

    /** Where the sequence stands: {@link #seek} back to it draws the same seeds again (a recomputed checkpointed block). */
    public long position() {
        return counter;
    }

    /** Moves the sequence of the current micro-batch to {@code position}. */
    public void seek(long position) {
        this.counter = position;
    }

    /** SplitMix64 of a ^ b, a well-spread 64-bit combination. */
    static long mix(long a, long b) {
        long z = a ^ (b * 0x9E3779B97F4A7C15L + 0x632BE59BD9B4E019L);
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
