package ai.attune.kernels.torch;

import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;
import ai.attune.kernels.jvm.JvmBackend;
import org.bytedeco.javacpp.PointerScope;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Timings to report, not to assert: GEMM 1024^3 through {@link TorchBackend#matmul} in f32 and
 * bf16, and the two attention forwards ({@link FlashAttention}, {@link Attention}) on
 * [4, 6, 512, 64]. Off by default (a benchmark, not a test); run with
 * {@code ./mvnw -o -pl kernels/torch test -Dtest=TorchThroughputTest -Dattune.bench=true} (add
 * {@code -Dattune.bench.threads=1} for one thread).
 * What it asserts is numbers: the products it times are checked against the jvm backend.
 */
@EnabledIfSystemProperty(named = "attune.bench", matches = "true")
class TorchThroughputTest {
    private final JvmBackend jvm = new JvmBackend();
    private final TorchBackend torch = new TorchBackend(jvm);

    TorchThroughputTest() {
        // -Dattune.bench.threads=N times libtorch on N threads instead of all the JVM sees.
        Integer threads = Integer.getInteger("attune.bench.threads");
        if (threads != null) {
            org.bytedeco.pytorch.global.torch.set_num_threads(threads);
        }
    }

    @Test
    void gemm1024() {
        int n = 1024;
        System.out.printf("libtorch threads %d, jvm-measured f32 FMA peak %.1f GFLOP/s on %d threads%n",
                org.bytedeco.pytorch.global.torch.get_num_threads(), torch.measurePeakGflops(), Runtime.getRuntime().availableProcessors());
        for (DType t : new DType[] {DType.F32, DType.BF16}) {
            try (Scope s = Scope.open("gemm")) {
                Tensor a = random(t, 1, n, n);
                Tensor b = random(t, 2, n, n);
                Tensor c = torch.zeros(t, new int[] {n, n}, s);
                double seconds = best(() -> torch.matmul(a, false, b, false, c), 3, 10);
                System.out.printf("torch matmul %dx%dx%d %s: %.1f GFLOP/s%n", n, n, n, t, 2.0 * n * n * n / seconds / 1e9);
                Tensor want = jvm.zeros(DType.F32, new int[] {n, n}, s);
                jvm.matmul(a, false, b, false, want);
                double[] w = Tensors.toDoubles(want);
                double[] g = Tensors.toDoubles(c);
                double tol = t == DType.F32 ? 1e-3 : 0.3; // |c| ~ sqrt(1024)/3; bf16 output rounds at 2^-8
                for (int i = 0; i < w.length; i += 4099) {
                    assertEquals(w[i], g[i], tol, "c[" + i + "]");
                }
            }
        }
    }

    @Test
    void attentionForwardStrategies() {
        int b = 4, h = 6, len = 512, d = 64;
        for (DType t : new DType[] {DType.F32, DType.BF16}) {
            for (boolean causal : new boolean[] {false, true}) {
                try (Scope s = Scope.open("attention")) {
                    Tensor q = random(t, 3, b, h, len, d);
                    Tensor k = random(t, 4, b, h, len, d);
                    Tensor v = random(t, 5, b, h, len, d);
                    Tensor out = torch.zeros(t, q.shape(), s);
                    Tensor lse = torch.zeros(DType.F32, new int[] {b, h, len}, s);
                    double scale = 1 / Math.sqrt(d);
                    // Interleaved, best of: the two strategies see the same machine load.
                    double flash = Double.MAX_VALUE, composed = Double.MAX_VALUE;
                    double[] fromFlash = null, fromComposition = null;
                    for (int round = 0; round < 5; round++) {
                        int warm = round == 0 ? 1 : 0;
                        flash = Math.min(flash, best(() -> pointers(() -> FlashAttention.forward(q, k, v, null, causal, scale, out, lse)), warm, 1));
                        fromFlash = Tensors.toDoubles(out);
                        composed = Math.min(composed, best(() -> pointers(() -> Attention.forward(q, k, v, null, causal, scale, out, lse)), warm, 1));
                        fromComposition = Tensors.toDoubles(out);
                    }
                    System.out.printf("attention forward [%d,%d,%d,%d] %s%s: fused %.1f ms, composed %.1f ms%n",
                            b, h, len, d, t, causal ? " causal" : "", flash * 1e3, composed * 1e3);
                    double tol = t == DType.F32 ? 1e-5 : 2e-2;
                    for (int i = 0; i < fromFlash.length; i += 997) {
                        assertEquals(fromComposition[i], fromFlash[i], tol, "out[" + i + "]");
                    }
                }
            }
        }
    }

    @Test
    void attentionBackwardStrategies() {
        int b = 4, h = 6, len = 512, d = 64;
        for (DType t : new DType[] {DType.F32, DType.BF16}) {
            for (boolean causal : new boolean[] {false, true}) {
                try (Scope s = Scope.open("attention backward")) {
                    Tensor q = random(t, 3, b, h, len, d);
                    Tensor k = random(t, 4, b, h, len, d);
                    Tensor v = random(t, 5, b, h, len, d);
                    Tensor g = random(t, 6, b, h, len, d);
                    Tensor out = torch.zeros(t, q.shape(), s);
                    Tensor lse = torch.zeros(DType.F32, new int[] {b, h, len}, s);
                    Tensor gq = torch.zeros(t, q.shape(), s), gk = torch.zeros(t, q.shape(), s), gv = torch.zeros(t, q.shape(), s);
                    double scale = 1 / Math.sqrt(d);
                    torch.attention(q, k, v, null, causal, scale, out, lse);
                    double flash = Double.MAX_VALUE, composed = Double.MAX_VALUE;
                    double[] fromFlash = null, fromComposition = null;
                    for (int round = 0; round < 4; round++) {
                        int warm = round == 0 ? 1 : 0;
                        flash = Math.min(flash, best(() -> pointers(() -> FlashAttention.backward(q, k, v, null, causal, scale, out, lse, g, gq, gk, gv)), warm, 1));
                        fromFlash = Tensors.toDoubles(gk);
                        composed = Math.min(composed, best(() -> pointers(() -> Attention.backward(q, k, v, null, causal, scale, out, lse, g, gq, gk, gv)), warm, 1));
                        fromComposition = Tensors.toDoubles(gk);
                    }
                    System.out.printf("attention backward [%d,%d,%d,%d] %s%s: fused %.1f ms, composed %.1f ms%n",
                            b, h, len, d, t, causal ? " causal" : "", flash * 1e3, composed * 1e3);
                    double tol = t == DType.F32 ? 1e-4 : 5e-2;
                    for (int i = 0; i < fromFlash.length; i += 997) {
                        assertEquals(fromComposition[i], fromFlash[i], tol, "gradK[" + i + "]");
                    }
                }
            }
        }
    }

    private Tensor random(DType t, long seed, int... shape) {
        int n = Arrays.stream(shape).reduce(1, (x, y) -> x * y);
        double[] v = new Random(seed).doubles(n).map(x -> 2 * x - 1).toArray();
        return Tensors.of(torch, t, v, shape);
    }

    private static void pointers(Runnable r) {
        try (PointerScope p = new PointerScope()) {
            r.run();
        }
    }

    /** Best seconds of {@code reps} timed calls after {@code warmup} untimed ones: the least disturbed by other load. */
    private static double best(Runnable call, int warmup, int reps) {
        for (int i = 0; i < warmup; i++) {
            call.run();
        }
        double t = Double.MAX_VALUE;
        for (int i = 0; i < reps; i++) {
            long t0 = System.nanoTime();
            call.run();
            t = Math.min(t, (System.nanoTime() - t0) / 1e9);
        }
        return t;
    }

}
