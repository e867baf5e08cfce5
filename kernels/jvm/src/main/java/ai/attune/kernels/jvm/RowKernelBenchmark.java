package ai.attune.kernels.jvm;

import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;
import ai.attune.api.tensor.UnaryOp;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Consumer;

/**
 * Milliseconds per call of the row kernels on the scalar reference path and the Vector API one,
 * at the shapes of a 110M Llama LoRA step (4 x 256 tokens, hidden 768, 12 heads of 64, a 32000
 * vocabulary; GELU at GPT-2's 3072), with the fast path's memory traffic in GB/s: these kernels are
 * bound by memory, not arithmetic. Run with {@code java --add-modules jdk.incubator.vector
 * --enable-native-access=ALL-UNNAMED ai.attune.kernels.jvm.RowKernelBenchmark [repeats [warm-up seconds [kernel name prefix]]]}.
 */
public final class RowKernelBenchmark {
    private static final int TOKENS = 1024, HIDDEN = 768, HEADS = 12, HEAD_DIM = 64, VOCAB = 32000, FFN = 3072;

    /** One kernel call on a backend; bytes is what the call reads and writes once. */
    private record Case(String name, long bytes, Consumer<Backend> call) {}

    private RowKernelBenchmark() {}

    public static void main(String[] args) {
        int repeats = args.length > 0 ? Integer.parseInt(args[0]) : 5;
        double warmUp = args.length > 1 ? Double.parseDouble(args[1]) : 4;
        String only = args.length > 2 ? args[2] : "";
        JvmBackend reference = new JvmBackend(true), fast = new JvmBackend(false);
        try (Scope s = Scope.open("row kernel benchmark")) {
            System.out.printf("%-32s %12s %12s %8s %10s%n", "kernel", "scalar ms", "vector ms", "speedup", "GB/s");
            for (Case c : cases(fast, s)) {
                if (!c.name.startsWith(only)) {
                    continue;
                }
                double scalarMs = time(c, reference, repeats, warmUp);
                double vectorMs = time(c, fast, repeats, warmUp);
                System.out.printf("%-32s %12.2f %12.2f %7.1fx %10.1f%n", c.name, scalarMs, vectorMs, scalarMs / vectorMs,
                        c.bytes / vectorMs / 1e6);
            }
        } finally {
            reference.shutdown();
            fast.shutdown();
        }
    }

    /**
     * The median of {@code repeats} timed calls after ten calls and {@code warmUp} seconds: until C2
     * has compiled a kernel, the Vector API runs boxed and orders of magnitude slower.
     */
    private static double time(Case c, Backend be, int repeats, double warmUp) {
        long warmUntil = System.nanoTime() + (long) (warmUp * 1e9);
        for (int i = 0; i < 10 || System.nanoTime() < warmUntil; i++) {
            c.call.accept(be);
        }
        double[] ms = new double[repeats];
        for (int r = 0; r < repeats; r++) {
            long t0 = System.nanoTime();
            c.call.accept(be);
            ms[r] = (System.nanoTime() - t0) / 1e6;
        }
        Arrays.sort(ms);
        return ms[repeats / 2];
    }

    private static List<Case> cases(Backend be, Scope s) {
        List<Case> cases = new ArrayList<>();
        long f = Float.BYTES;

        Tensor logits = random(be, 4, TOKENS, VOCAB);
        long[] t = new SplittableRandom(1).longs(TOKENS, 0, VOCAB).toArray();
        Tensor targets = Tensors.ofLongs(be, t, TOKENS);
        Tensor loss = be.empty(DType.F32, new int[] {TOKENS}, s), lse = be.empty(DType.F32, new int[] {TOKENS}, s);
        Tensor gradLoss = random(be, 1, TOKENS), gradLogits = be.empty(DType.F32, new int[] {TOKENS, VOCAB}, s);
        long logitBytes = f * TOKENS * VOCAB;
        cases.add(new Case("cross_entropy [1024, 32000]", logitBytes, b -> b.crossEntropy(logits, targets, -100, loss, lse)));
        cases.add(new Case("cross_entropy_backward", 2 * logitBytes,
                b -> b.crossEntropyBackward(logits, targets, -100, lse, gradLoss, gradLogits)));

        int[] qShape = {4, HEADS, 256, HEAD_DIM};
        Tensor q = random(be, 1, qShape), rotated = be.empty(DType.F32, qShape, s);
        long[] pos = new long[4 * 256];
        Arrays.setAll(pos, i -> i % 256);
        Tensor positions = Tensors.ofLongs(be, pos, 4, 256);
        float[] invFreq = ai.attune.api.autograd.F.ropeInvFreq(10000.0, HEAD_DIM);
        long qBytes = 2 * f * q.numel();
        cases.add(new Case("rope [4, 12, 256, 64]", qBytes, b -> b.rope(q, positions, invFreq, false, rotated)));
        cases.add(new Case("rope_backward", qBytes, b -> b.rope(q, positions, invFreq, true, rotated)));

        int[] scores = {4 * HEADS * 256, 256};
        Tensor x = random(be, 4, scores), y = be.empty(DType.F32, scores, s), gy = random(be, 1, scores), gx = be.empty(DType.F32, scores, s);
        long scoreBytes = f * x.numel();
        cases.add(new Case("softmax [12288, 256]", 2 * scoreBytes, b -> b.softmax(x, false, y)));
        cases.add(new Case("softmax_backward", 3 * scoreBytes, b -> b.softmaxBackward(y, gy, false, gx)));
        cases.add(new Case("log_softmax", 2 * scoreBytes, b -> b.softmax(x, true, y)));
        cases.add(new Case("log_softmax_backward", 3 * scoreBytes, b -> b.softmaxBackward(y, gy, true, gx)));

        int[] ffn = {TOKENS, FFN};
        Tensor h = random(be, 3, ffn), act = be.empty(DType.F32, ffn, s), gAct = random(be, 1, ffn), gh = be.empty(DType.F32, ffn, s);
        long ffnBytes = f * h.numel();
        for (UnaryOp op : new UnaryOp[] {UnaryOp.GELU_ERF, UnaryOp.GELU_TANH}) {
            String name = op == UnaryOp.GELU_ERF ? "gelu [1024, 3072]" : "gelu tanh";
            cases.add(new Case(name, 2 * ffnBytes, b -> b.unary(op, h, act)));
            cases.add(new Case(name + " backward", 3 * ffnBytes, b -> b.unaryBackward(op, h, gAct, gh)));
        }

        int[] hidden = {TOKENS, HIDDEN};
        Tensor xn = random(be, 3, hidden), w = random(be, 1, HIDDEN), bias = random(be, 1, HIDDEN);
        Tensor yn = be.empty(DType.F32, hidden, s), gyn = random(be, 1, hidden), gxn = be.empty(DType.F32, hidden, s);
        Tensor mean = be.empty(DType.F32, new int[] {TOKENS}, s), rstd = be.empty(DType.F32, new int[] {TOKENS}, s);
        Tensor gw = be.zeros(DType.F32, new int[] {HIDDEN}, s), gb = be.zeros(DType.F32, new int[] {HIDDEN}, s);
        long hiddenBytes = f * xn.numel();
        cases.add(new Case("layer_norm [1024, 768]", 2 * hiddenBytes, b -> b.layerNorm(xn, w, bias, 1e-5, yn, mean, rstd)));
        cases.add(new Case("layer_norm_backward", 3 * hiddenBytes, b -> b.layerNormBackward(xn, w, mean, rstd, gyn, gxn, gw, gb)));
        return cases;
    }

    private static Tensor random(Backend be, double scale, int... shape) {
        SplittableRandom r = new SplittableRandom(Arrays.hashCode(shape));
        double[] v = new double[Math.toIntExact(Arrays.stream(shape).asLongStream().reduce(1, (a, b) -> a * b))];
        Arrays.setAll(v, i -> (r.nextDouble() * 2 - 1) * scale);
        return Tensors.of(be, DType.F32, v, shape);
    }
}
