package ai.attune.kernels.jvm.gemm;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Measures the f32 fused-multiply-add peak this JVM reaches on this machine: the ceiling a GEMM is
 * judged against. The loop is a dependency chain per accumulator, so it needs at least
 * (FMA latency x FMAs issued per cycle) independent accumulators to keep the FMA units busy;
 * twelve covers a 4-cycle latency at two per cycle with room to spare, and stays well under the 32
 * vector registers so nothing spills. (On the Zen 4-class development machine a 512-bit FMA
 * issues once per cycle, so the per-core peak is 32 flops per cycle.)
 */
public final class FmaPeak {

    private static final VectorSpecies<Float> SPECIES = MicroKernel.SPECIES;

    /** FMAs per inner iteration: 12 independent accumulators. */
    private static final int CHAINS = 12;
    /** Loop iterations of one warm-up call: ~2 us once compiled, ~100 us before. */
    private static final int WARM_UP_ITERATIONS = 1_000;
    /**
     * A warm-up call this fast per iteration runs compiled code: 12 vector FMAs take ~2 ns on one
     * core compiled and ~100 ns interpreted or C1-compiled, where each FMA allocates a vector.
     */
    private static final double COMPILED_NANOS_PER_ITERATION = 20;
    /** Consecutive fast warm-up calls that show the compiled loop is installed. */
    private static final int FAST_CALLS = 50;
    /** Longest warm-up: past it the rounds run anyway (and on-stack replacement catches up). */
    private static final long WARM_UP_LIMIT_NANOS = 5_000_000_000L;

    /** Peak of {@code threads} threads running at once, and the per-thread average. */
    public record Result(int threads, double gflops, double perThreadGflops) {
        @Override
        public String toString() {
            return String.format("FMA peak: %.1f GFLOP/s on %d thread(s) (%.1f per thread)",
                    gflops, threads, perThreadGflops);
        }
    }

    private FmaPeak() {
    }

    /**
     * Runs the FMA loop on {@code threads} tasks of {@code executor} started together, and returns
     * the best of a few rounds (the peak is a ceiling, so the best round is the measurement; the
     * others are warm-up or interference). The executor needs at least {@code threads} threads;
     * with fewer, the rounds fail after a timeout instead of measuring something else.
     */
    public static Result measure(ExecutorService executor, int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be >= 1: " + threads);
        }
        warmUp();
        long iterations = 20_000_000L;
        double best = 0;
        for (int round = 0; round < 5; round++) {
            best = Math.max(best, oneRound(executor, threads, iterations));
        }
        return new Result(threads, best, best / threads);
    }

    /**
     * Short calls until they run compiled, so no timed round starts in slow code: the Vector API
     * without its intrinsics allocates a vector per FMA, and a 20M-iteration call entered there
     * spends seconds before on-stack replacement takes it. A fixed number of calls is not enough:
     * in a busy JVM (after a training run) the optimizing compiler's queue is long, the calls end
     * before their compiled loop is installed, and the first round measured 4 s in a SetFit job.
     */
    private static void warmUp() {
        long deadline = System.nanoTime() + WARM_UP_LIMIT_NANOS;
        int fast = 0;
        while (fast < FAST_CALLS && System.nanoTime() < deadline) {
            long t0 = System.nanoTime();
            chains(WARM_UP_ITERATIONS);
            long dt = System.nanoTime() - t0;
            fast = dt < WARM_UP_ITERATIONS * COMPILED_NANOS_PER_ITERATION ? fast + 1 : 0;
        }
    }

    private static double oneRound(ExecutorService executor, int threads, long iterations) {
        CyclicBarrier start = new CyclicBarrier(threads);
        List<Future<Double>> futures = new ArrayList<>(threads);
        for (int t = 0; t < threads; t++) {
            futures.add(executor.submit(() -> {
                start.await(30, TimeUnit.SECONDS);
                long t0 = System.nanoTime();
                float sink = chains(iterations);
                long dt = System.nanoTime() - t0;
                // Keeps the JIT from dropping the loop as dead code.
                if (sink == 42.0f) {
                    System.out.print("");
                }
                return dt * 1e-9;
            }));
        }
        double slowest = 0;
        try {
            for (Future<Double> f : futures) {
                slowest = Math.max(slowest, f.get());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        } catch (ExecutionException e) {
            throw new IllegalStateException(e.getCause());
        }
        double flops = 2.0 * CHAINS * SPECIES.length() * (double) iterations * threads;
        return flops / slowest / 1e9;
    }

    private static float chains(long iterations) {
        FloatVector x = FloatVector.broadcast(SPECIES, 0.999999f);
        FloatVector y = FloatVector.broadcast(SPECIES, 1e-7f);
        FloatVector c0 = FloatVector.broadcast(SPECIES, 0.1f);
        FloatVector c1 = FloatVector.broadcast(SPECIES, 0.2f);
        FloatVector c2 = FloatVector.broadcast(SPECIES, 0.3f);
        FloatVector c3 = FloatVector.broadcast(SPECIES, 0.4f);
        FloatVector c4 = FloatVector.broadcast(SPECIES, 0.5f);
        FloatVector c5 = FloatVector.broadcast(SPECIES, 0.6f);
        FloatVector c6 = FloatVector.broadcast(SPECIES, 0.7f);
        FloatVector c7 = FloatVector.broadcast(SPECIES, 0.8f);
        FloatVector c8 = FloatVector.broadcast(SPECIES, 0.9f);
        FloatVector c9 = FloatVector.broadcast(SPECIES, 1.0f);
        FloatVector c10 = FloatVector.broadcast(SPECIES, 1.1f);
        FloatVector c11 = FloatVector.broadcast(SPECIES, 1.2f);
        for (long i = 0; i < iterations; i++) {
            c0 = c0.fma(x, y);
            c1 = c1.fma(x, y);
            c2 = c2.fma(x, y);
            c3 = c3.fma(x, y);
            c4 = c4.fma(x, y);
            c5 = c5.fma(x, y);
            c6 = c6.fma(x, y);
            c7 = c7.fma(x, y);
            c8 = c8.fma(x, y);
            c9 = c9.fma(x, y);
            c10 = c10.fma(x, y);
            c11 = c11.fma(x, y);
        }
        return c0.add(c1).add(c2).add(c3).add(c4).add(c5).add(c6).add(c7).add(c8).add(c9).add(c10)
                .add(c11).reduceLanes(jdk.incubator.vector.VectorOperators.ADD);
    }
}
