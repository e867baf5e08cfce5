package ai.attune.runtime.cli;

import ai.attune.api.spi.QuantizedTensor;
import ai.attune.api.spi.Quantizer;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;

import java.io.PrintWriter;
import java.util.Arrays;
import java.util.Random;

/**
 * {@code attune bench --op matmul --dtype nf4}: a Linear's product {@code x @ W^T} with a 4-bit W
 * (x [m, k], W [n, k], the quantizer's default config) three ways: through the quantizer, which
 * decodes W inside the GEMM where the backend can; dequantize-then-GEMM, as the product ran
 * before; and the dense f32 GEMM over the dequantized W, the ceiling. Each way allocates its output,
 * as the product in a training step does, and the three take turns in every round, so a busy
 * machine slows them alike.
 */
final class QuantizedMatmulBench {
    private final PrintWriter out;

    QuantizedMatmulBench(PrintWriter out) {
        this.out = out;
    }

    <C> void run(Backend be, Quantizer<C> quantizer, String name, int m, int n, int k, int repeats) {
        double flops = 2.0 * m * n * k;
        try (Scope s = Scope.open("quantized matmul")) {
            Random r = new Random(0);
            Tensor x = Tensors.of(be, DType.F32, r.doubles((long) m * k, -1, 1).toArray(), m, k); // [m, k]
            Tensor w = Tensors.of(be, DType.F32, r.doubles((long) n * k, -0.05, 0.05).toArray(), n, k); // [n, k]
            QuantizedTensor q = quantizer.quantize(w, quantizer.defaultConfig(), s);
            Tensor dense = quantizer.dequantize(q, s); // [n, k]
            Runnable[] ways = {
                () -> quantizer.matmul(q, x, true),
                () -> {
                    Tensor wt = quantizer.dequantize(q, Scope.current()); // [n, k]
                    be.matmul(x, false, wt, true, be.empty(DType.F32, new int[] {m, n}, Scope.current()));
                    wt.storage().release();
                },
                () -> be.matmul(x, false, dense, true, be.empty(DType.F32, new int[] {m, n}, Scope.current())),
            };
            double[][] seconds = new double[ways.length][repeats];
            // Warm up for at least a second: the JIT compiles the kernels in tiers.
            long warmUntil = System.nanoTime() + 1_000_000_000L;
            for (int i = 0; i < 3 || System.nanoTime() < warmUntil; i++) {
                for (Runnable way : ways) {
                    time(way);
                }
            }
            for (int i = 0; i < repeats; i++) {
                for (int j = 0; j < ways.length; j++) {
                    seconds[j][i] = time(ways[j]);
                }
            }
            String shape = String.format("[%d, %d] x [%d, %d]^T", m, k, n, k);
            String[] labels = {name + " fused into the GEMM", name + ", dequantize then GEMM", "f32, dense weight"};
            for (int j = 0; j < ways.length; j++) {
                double median = median(seconds[j]);
                out.printf("matmul %s %s on %s: %.1f GFLOP/s (median of %d, %.3f ms)%n", shape, labels[j], be.name(), flops / median / 1e9, repeats, median * 1e3);
            }
            out.printf("weight: %,d bytes as %s, %,d as f32%n", q.storedBytes(), name, dense.numel() * Float.BYTES);
            out.flush();
        }
    }

    private static double time(Runnable way) {
        try (Scope step = Scope.open("step")) {
            long t0 = System.nanoTime();
            way.run();
            return (System.nanoTime() - t0) / 1e9;
        }
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
}
