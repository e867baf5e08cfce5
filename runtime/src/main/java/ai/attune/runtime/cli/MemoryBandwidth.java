package ai.attune.runtime.cli;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The machine's sustainable memory bandwidth, measured as McCalpin's STREAM does
 * (https://www.cs.virginia.edu/stream/ref.html): the triad {@code a[i] = b[i] + s * c[i]} and the
 * copy {@code a[i] = b[i]} over three f32 arrays far larger than the last-level cache (STREAM asks
 * for at least four times it each), every core on its own contiguous chunk, best of several
 * repetitions after an untimed one. GB/s count the bytes STREAM counts: three arrays for the
 * triad, two for the copy (the hardware's write-allocate read of {@code a} is not counted). This
 * is the ceiling for memory-bound work such as decoding, as the FMA peak is for a GEMM.
 *
 * <p>The kernels are Vector API loops with their scalar references beside them;
 * {@code -Dattune.jvm.scalar=true} runs the references.
 */
final class MemoryBandwidth implements AutoCloseable {
    private static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;
    private static final ByteOrder ORDER = ByteOrder.nativeOrder();
    private static final long F32 = Float.BYTES;
    /** The triad's scalar, as STREAM's. */
    static final float SCALAR = 3.0f;

    /** Best-of-{@code repeats} bandwidths over arrays of {@code arrayBytes} each, on {@code threads} threads. */
    record Result(long arrayBytes, int threads, int repeats, double triadGbPerSecond, double copyGbPerSecond) {}

    private final boolean scalar = Boolean.getBoolean("attune.jvm.scalar");
    private final Arena arena = Arena.ofShared();
    private final ExecutorService pool;
    private final int threads;
    private final long n;
    final MemorySegment a;
    final MemorySegment b;
    final MemorySegment c;

    /** Three arrays of {@code elements} f32 each, {@code a} zero, {@code b} and {@code c} filled, each chunk first touched by its thread. */
    MemoryBandwidth(long elements, int threads) {
        if (elements <= 0 || threads <= 0) {
            throw new IllegalArgumentException("elements and threads must be positive, got " + elements + " and " + threads);
        }
        this.n = elements;
        this.threads = threads;
        AtomicInteger id = new AtomicInteger();
        this.pool = Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "attune-stream-" + id.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        this.a = arena.allocate(elements * F32, 4096);
        this.b = arena.allocate(elements * F32, 4096);
        this.c = arena.allocate(elements * F32, 4096);
        parallel((from, to) -> {
            for (long i = from; i < to; i++) {
                a.setAtIndex(ValueLayout.JAVA_FLOAT, i, 0f);
                b.setAtIndex(ValueLayout.JAVA_FLOAT, i, 1f + (i & 1023) / 1024f);
                c.setAtIndex(ValueLayout.JAVA_FLOAT, i, 0.5f - (i & 511) / 1024f);
            }
        });
    }

    /** Measures both kernels: one untimed pass each, then the best of {@code repeats}. */
    static Result measure(long arrayBytes, int threads, int repeats) {
        try (MemoryBandwidth m = new MemoryBandwidth(arrayBytes / F32, threads)) {
            double triad = m.best(repeats, m::triad);
            double copy = m.best(repeats, m::copy);
            long bytes = m.n * F32;
            return new Result(bytes, threads, repeats, 3.0 * bytes / triad / 1e9, 2.0 * bytes / copy / 1e9);
        }
    }

    private double best(int repeats, Runnable kernel) {
        kernel.run(); // compiles the loop and faults in what the fill did not
        double best = Double.MAX_VALUE;
        for (int r = 0; r < repeats; r++) {
            long t0 = System.nanoTime();
            kernel.run();
            best = Math.min(best, (System.nanoTime() - t0) / 1e9);
        }
        return best;
    }

    /** {@code a = b + SCALAR * c} on every thread's chunk. */
    void triad() {
        parallel((from, to) -> {
            if (scalar) {
                triadReference(a, b, c, SCALAR, from, to);
            } else {
                triad(a, b, c, SCALAR, from, to);
            }
        });
    }

    /** {@code a = b} on every thread's chunk. */
    void copy() {
        parallel((from, to) -> {
            if (scalar) {
                copyReference(a, b, from, to);
            } else {
                copy(a, b, from, to);
            }
        });
    }

    /** {@code a[i] = b[i] + s * c[i]} for i in [from, to): a product then a sum, as the reference rounds them (no FMA). */
    static void triad(MemorySegment a, MemorySegment b, MemorySegment c, float s, long from, long to) {
        int lanes = SPECIES.length();
        long i = from;
        for (long end = from + (to - from) / lanes * lanes; i < end; i += lanes) {
            FloatVector vb = FloatVector.fromMemorySegment(SPECIES, b, i * F32, ORDER);
            FloatVector vc = FloatVector.fromMemorySegment(SPECIES, c, i * F32, ORDER);
            vc.mul(s).add(vb).intoMemorySegment(a, i * F32, ORDER);
        }
        triadReference(a, b, c, s, i, to);
    }

    static void triadReference(MemorySegment a, MemorySegment b, MemorySegment c, float s, long from, long to) {
        for (long i = from; i < to; i++) {
            a.setAtIndex(ValueLayout.JAVA_FLOAT, i, b.getAtIndex(ValueLayout.JAVA_FLOAT, i) + s * c.getAtIndex(ValueLayout.JAVA_FLOAT, i));
        }
    }

    /** {@code a[i] = b[i]} for i in [from, to). */
    static void copy(MemorySegment a, MemorySegment b, long from, long to) {
        int lanes = SPECIES.length();
        long i = from;
        for (long end = from + (to - from) / lanes * lanes; i < end; i += lanes) {
            FloatVector.fromMemorySegment(SPECIES, b, i * F32, ORDER).intoMemorySegment(a, i * F32, ORDER);
        }
        copyReference(a, b, i, to);
    }

    static void copyReference(MemorySegment a, MemorySegment b, long from, long to) {
        for (long i = from; i < to; i++) {
            a.setAtIndex(ValueLayout.JAVA_FLOAT, i, b.getAtIndex(ValueLayout.JAVA_FLOAT, i));
        }
    }

    /** A range of element indices. */
    @FunctionalInterface
    private interface Chunk {
        void run(long from, long to);
    }

    /** Runs {@code body} on one contiguous chunk per thread, chunks a whole number of vectors long, and waits for all. */
    private void parallel(Chunk body) {
        long lanes = SPECIES.length();
        long per = (n + threads - 1) / threads;
        per = (per + lanes - 1) / lanes * lanes;
        List<Callable<Void>> tasks = new ArrayList<>(threads);
        for (long from = 0; from < n; from += per) {
            long start = from;
            long end = Math.min(n, from + per);
            tasks.add(() -> {
                body.run(start, end);
                return null;
            });
        }
        try {
            for (Future<Void> f : pool.invokeAll(tasks)) {
                f.get();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        } catch (ExecutionException e) {
            throw new IllegalStateException(e.getCause());
        }
    }

    @Override
    public void close() {
        pool.shutdownNow();
        arena.close();
    }
}
