package ai.attune.kernels.jvm.gemm;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * Throughput of {@link Gemm} on square-ish shapes, next to the machine's FMA peak. Run with
 * {@code java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED
 * ai.attune.kernels.jvm.gemm.GemmBenchmark [threads...] [f32|bf16|f16...]}.
 */
public final class GemmBenchmark {

    /** Median and best of the timed repeats, in GFLOP/s (2*m*n*k flops per call). */
    public record Result(int m, int n, int k, ElementType type, int threads, double medianGflops,
                         double bestGflops) {
        @Override
        public String toString() {
            return String.format("%dx%dx%d %s, %d thread(s): median %.1f GFLOP/s (best %.1f)",
                    m, n, k, type, threads, medianGflops, bestGflops);
        }
    }

    private final Gemm gemm;
    private final int threads;

    public GemmBenchmark(ExecutorService executor, int threads) {
        this.gemm = new Gemm(executor, threads);
        this.threads = threads;
    }

    /**
     * Times C = A B for A [m,k] and B [k,n] of {@code type} (random values, C f32), after warm-up
     * calls long enough for the JIT to compile the kernel, and returns the median of
     * {@code repeats} timed calls.
     */
    public Result run(int m, int n, int k, ElementType type, int repeats) {
        if (repeats < 1) {
            throw new IllegalArgumentException("repeats must be >= 1");
        }
        try (Arena arena = Arena.ofShared()) {
            MemorySegment a = random(arena, (long) m * k, type, 1);
            MemorySegment b = random(arena, (long) k * n, type, 2);
            MemorySegment c = arena.allocate((long) m * n * Float.BYTES, 64);
            Runnable call = () -> gemm.gemm(false, false, m, n, k, 1f, a, 0, k, type, b, 0, n, type, 0f, c, 0, n);
            // Warm up for at least a second: until C2 has compiled the kernel and the packing loops,
            // the Vector API runs boxed and orders of magnitude slower.
            long warmUntil = System.nanoTime() + 1_000_000_000L;
            for (int i = 0; i < 3 || System.nanoTime() < warmUntil; i++) {
                call.run();
            }
            double[] gflops = new double[repeats];
            double flops = 2.0 * m * n * k;
            for (int r = 0; r < repeats; r++) {
                long t0 = System.nanoTime();
                call.run();
                gflops[r] = flops / (System.nanoTime() - t0);
            }
            Arrays.sort(gflops);
            return new Result(m, n, k, type, threads, gflops[repeats / 2], gflops[repeats - 1]);
        }
    }

    private static MemorySegment random(Arena arena, long count, ElementType type, long seed) {
        MemorySegment s = arena.allocate(count * type.byteSize(), 64);
        SplittableRandom rnd = new SplittableRandom(seed);
        for (long i = 0; i < count; i++) {
            float v = (float) (rnd.nextDouble() * 2 - 1);
            switch (type) {
                case F32 -> s.setAtIndex(ValueLayout.JAVA_FLOAT, i, v);
                case BF16 -> s.setAtIndex(ValueLayout.JAVA_SHORT, i, (short) (Float.floatToRawIntBits(v) >>> 16));
                case F16 -> s.setAtIndex(ValueLayout.JAVA_SHORT, i, Float.floatToFloat16(v));
            }
        }
        return s;
    }

    /** Args: thread counts (default: 1 and all cores) and element types (default: f32), in any order. */
    public static void main(String[] args) {
        int cores = Runtime.getRuntime().availableProcessors();
        int[] threadCounts = Arrays.stream(args).filter(s -> s.matches("\\d+")).mapToInt(Integer::parseInt).toArray();
        if (threadCounts.length == 0) {
            threadCounts = cores > 1 ? new int[] {1, cores} : new int[] {1};
        }
        ElementType[] types = Arrays.stream(args).filter(s -> !s.matches("\\d+"))
                .map(s -> ElementType.valueOf(s.toUpperCase())).toArray(ElementType[]::new);
        if (types.length == 0) {
            types = new ElementType[] {ElementType.F32};
        }
        int[][] shapes = {{1024, 1024, 1024}, {4096, 1024, 1024}};
        int poolSize = Math.max(cores, Arrays.stream(threadCounts).max().getAsInt());
        ExecutorService pool = Executors.newFixedThreadPool(poolSize, r -> {
            Thread t = new Thread(r, "gemm-bench");
            t.setDaemon(true);
            return t;
        });
        try {
            for (int threads : threadCounts) {
                FmaPeak.Result peak = FmaPeak.measure(pool, threads);
                System.out.println(peak);
                GemmBenchmark bench = new GemmBenchmark(pool, threads);
                for (ElementType type : types) {
                    for (int[] s : shapes) {
                        Result r = bench.run(s[0], s[1], s[2], type, 15);
                        System.out.printf("%s -> %.0f%% of peak%n", r, 100 * r.medianGflops() / peak.gflops());
                    }
                }
            }
        } finally {
            pool.shutdown();
        }
    }
}
