package ai.attune.kernels.jvm;

import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The fused attention kernel against an independent oracle: naive attention in double that
 * materialises the score matrix, with its textbook backward; and the kernel's own backward
 * against central finite differences of its forward in f64.
 */
class AttentionTest {
    private final JvmBackend backend = new JvmBackend();

    /** Which keys the padding mask hides. */
    enum Mask {
        NONE,
        /** Batch 0 hides keys 1 and t-2; batch 1 hides keys 0..2, so under causal s == t its rows 0..2 see nothing. */
        PADDING,
        /** The last batch hides every key: all its rows see nothing. */
        LAST_BATCH_HIDDEN
    }

    record Case(String name, DType dtype, int batch, int hq, int hkv, int s, int t, int d, boolean causal, Mask mask,
                boolean transposed, int br, int bc) {
        @Override
        public String toString() {
            return name;
        }

        double tolerance() {
            return switch (dtype) {
                case F64 -> 1e-12;
                case F32 -> 1e-5;
                case F16 -> 1e-3;
                default -> 2e-2;
            };
        }
    }

    static Stream<Case> cases() {
        DType f64 = DType.F64, f32 = DType.F32;
        Mask none = Mask.NONE, pad = Mask.PADDING, hidden = Mask.LAST_BATCH_HIDDEN;
        return Stream.of(
                new Case("f64 bidirectional 3 tiles d=17", f64, 2, 2, 2, 70, 70, 17, false, none, false, 32, 32),
                new Case("f64 causal gqa 4:2 padding d=5", f64, 2, 4, 2, 70, 70, 5, true, pad, false, 32, 32),
                new Case("f64 causal s<t gqa 4:1 transposed q", f64, 2, 4, 1, 9, 40, 8, true, pad, true, 4, 16),
                new Case("f64 causal s>t rows without keys", f64, 1, 2, 1, 20, 7, 6, true, none, false, 8, 4),
                new Case("f64 decode s=1", f64, 2, 4, 2, 1, 33, 16, true, pad, false, 64, 16),
                new Case("f64 t=1 causal", f64, 1, 2, 2, 6, 1, 4, true, none, false, 4, 4),
                new Case("f64 fully hidden batch odd tiles", f64, 2, 2, 1, 10, 10, 3, false, hidden, false, 3, 5),
                new Case("f32 bidirectional 3 tiles d=17", f32, 2, 2, 2, 70, 70, 17, false, none, false, 32, 32),
                new Case("f32 causal gqa 4:2 padding d=5", f32, 2, 4, 2, 70, 70, 5, true, pad, false, 32, 32),
                new Case("f32 causal s<t gqa 4:1 transposed q", f32, 2, 4, 1, 9, 40, 8, true, pad, true, 4, 16),
                new Case("f32 causal s>t rows without keys", f32, 1, 2, 1, 20, 7, 6, true, none, false, 8, 4),
                new Case("f32 fully hidden batch odd tiles", f32, 2, 2, 1, 10, 10, 3, false, hidden, false, 3, 5),
                new Case("f32 odd tiles 3x5 padding d=17", f32, 2, 2, 1, 23, 23, 17, true, pad, true, 3, 5),
                new Case("f32 default tiles d=64", f32, 1, 2, 1, 130, 130, 64, true, none, false,
                        Attention.BLOCK_ROWS, Attention.BLOCK_COLS),
                new Case("bf16 causal gqa padding", DType.BF16, 2, 4, 2, 70, 70, 16, true, pad, false, 32, 32),
                new Case("f16 causal s<t transposed q", DType.F16, 1, 2, 1, 12, 40, 24, true, none, true, 8, 16));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void matchesNaiveAttention(Case c) {
        try (Scope scope = Scope.open()) {
            Random rnd = new Random(c.name().hashCode());
            Inputs in = inputs(c, rnd);
            double scale = 1.5 / Math.sqrt(c.d());
            Tensor out = backend.zeros(c.dtype(), new int[]{c.batch(), c.hq(), c.s(), c.d()}, scope);
            Tensor lse = backend.zeros(DType.F32, new int[]{c.batch(), c.hq(), c.s()}, scope);
            Attention.forward(in.q, in.k, in.v, in.mask, c.causal(), scale, out, lse, c.br(), c.bc(), null, 1);
            Tensor gradQ = backend.zeros(c.dtype(), in.q.shape(), scope);
            Tensor gradK = backend.zeros(c.dtype(), in.k.shape(), scope);
            Tensor gradV = backend.zeros(c.dtype(), in.v.shape(), scope);
            // The gradients are outputs, overwritten rather than accumulated into.
            backend.fill(gradQ, 7);
            backend.fill(gradK, 7);
            backend.fill(gradV, 7);
            Attention.backward(in.q, in.k, in.v, in.mask, c.causal(), scale, out, lse, in.gradOut, gradQ, gradK, gradV,
                    c.br(), c.bc(), null, 1);

            Reference ref = new Reference(c, scale, Tensors.toDoubles(in.q), Tensors.toDoubles(in.k),
                    Tensors.toDoubles(in.v), in.mask == null ? null : Tensors.toDoubles(in.mask),
                    Tensors.toDoubles(in.gradOut));
            double tol = c.tolerance();
            assertClose(ref.out, Tensors.toDoubles(out), tol, "out");
            assertClose(ref.lse, Tensors.toDoubles(lse), Math.max(tol, 1e-5), "lse");
            assertClose(ref.dq, Tensors.toDoubles(gradQ), tol, "gradQ");
            assertClose(ref.dk, Tensors.toDoubles(gradK), tol, "gradK");
            assertClose(ref.dv, Tensors.toDoubles(gradV), tol, "gradV");
            boolean emptyRows = c.mask() == Mask.LAST_BATCH_HIDDEN
                    || c.causal() && (c.s() > c.t() || c.mask() == Mask.PADDING && c.s() == c.t());
            if (emptyRows) {
                assertTrue(countInfinite(ref.lse) > 0, "the case should have rows that see no key");
            }
        }
    }

    /** The backward is the derivative of the forward: central differences of L = sum(out * R) in f64. */
    @Test
    void backwardMatchesFiniteDifferencesOfForward() {
        Case c = new Case("fd", DType.F64, 2, 2, 1, 5, 7, 3, true, Mask.PADDING, false, 2, 3);
        try (Scope scope = Scope.open()) {
            Random rnd = new Random(7);
            Inputs in = inputs(c, rnd);
            double scale = 0.9;
            double[] q = Tensors.toDoubles(in.q), k = Tensors.toDoubles(in.k), v = Tensors.toDoubles(in.v);
            double[] r = Tensors.toDoubles(in.gradOut);
            Tensor out = backend.zeros(DType.F64, in.q.shape(), scope);
            Tensor lse = backend.zeros(DType.F32, new int[]{c.batch(), c.hq(), c.s()}, scope);
            Attention.forward(in.q, in.k, in.v, in.mask, true, scale, out, lse, c.br(), c.bc(), null, 1);
            Tensor gradQ = backend.zeros(DType.F64, in.q.shape(), scope);
            Tensor gradK = backend.zeros(DType.F64, in.k.shape(), scope);
            Tensor gradV = backend.zeros(DType.F64, in.v.shape(), scope);
            Attention.backward(in.q, in.k, in.v, in.mask, true, scale, out, lse, in.gradOut, gradQ, gradK, gradV,
                    c.br(), c.bc(), null, 1);
            double[][] inputs = {q, k, v};
            double[][] analytic = {Tensors.toDoubles(gradQ), Tensors.toDoubles(gradK), Tensors.toDoubles(gradV)};
            double eps = 1e-6;
            for (int which = 0; which < 3; which++) {
                double[] x = inputs[which];
                for (int i = 0; i < x.length; i++) {
                    double keep = x[i];
                    x[i] = keep + eps;
                    double plus = loss(c, scale, q, k, v, in.mask, r);
                    x[i] = keep - eps;
                    double minus = loss(c, scale, q, k, v, in.mask, r);
                    x[i] = keep;
                    double numeric = (plus - minus) / (2 * eps);
                    assertEquals(numeric, analytic[which][i], 1e-8, "input " + which + " element " + i);
                }
            }
        }
    }

    private double loss(Case c, double scale, double[] q, double[] k, double[] v, Tensor mask, double[] r) {
        try (Scope scope = Scope.open()) {
            Tensor qt = Tensors.of(backend, DType.F64, q, c.batch(), c.hq(), c.s(), c.d());
            Tensor kt = Tensors.of(backend, DType.F64, k, c.batch(), c.hkv(), c.t(), c.d());
            Tensor vt = Tensors.of(backend, DType.F64, v, c.batch(), c.hkv(), c.t(), c.d());
            Tensor out = backend.zeros(DType.F64, qt.shape(), scope);
            Tensor lse = backend.zeros(DType.F32, new int[]{c.batch(), c.hq(), c.s()}, scope);
            Attention.forward(qt, kt, vt, mask, c.causal(), scale, out, lse, c.br(), c.bc(), null, 1);
            double[] o = Tensors.toDoubles(out);
            double sum = 0;
            for (int i = 0; i < o.length; i++) {
                sum += o[i] * r[i];
            }
            return sum;
        }
    }

    /** Units are independent, so the thread count changes nothing, to the bit. */
    @Test
    void threadedRunIsBitwiseEqualToSingleThreaded() {
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try (Scope scope = Scope.open()) {
            Case c = new Case("threads", DType.F32, 2, 4, 2, 64, 64, 32, true, Mask.PADDING, false, 64, 64);
            Inputs in = inputs(c, new Random(11));
            double[][] single = run(c, in, null, 1, scope);
            double[][] threaded = run(c, in, pool, 3, scope);
            for (int i = 0; i < single.length; i++) {
                assertArrayEquals(single[i], threaded[i], "output " + i);
            }
        } finally {
            pool.shutdownNow();
        }
    }

    /** Backend.attention and attentionBackward reach this kernel, on the backend's own pool. */
    @Test
    void backendEntryPointsMatchDirectCall() {
        JvmBackend threaded = new JvmBackend();
        try (Scope scope = Scope.open()) {
            Case c = new Case("backend", DType.F32, 2, 4, 2, 64, 64, 32, true, Mask.PADDING, true, 64, 64);
            Inputs in = inputs(c, new Random(5));
            double[][] direct = run(c, in, null, 1, scope);
            double scale = 1 / Math.sqrt(c.d());
            Tensor out = threaded.zeros(c.dtype(), in.q.shape(), scope);
            Tensor lse = threaded.zeros(DType.F32, new int[]{c.batch(), c.hq(), c.s()}, scope);
            Tensor gradQ = threaded.zeros(c.dtype(), in.q.shape(), scope);
            Tensor gradK = threaded.zeros(c.dtype(), in.k.shape(), scope);
            Tensor gradV = threaded.zeros(c.dtype(), in.v.shape(), scope);
            threaded.attention(in.q, in.k, in.v, in.mask, true, scale, out, lse);
            threaded.attentionBackward(in.q, in.k, in.v, in.mask, true, scale, out, lse, in.gradOut, gradQ, gradK, gradV);
            double[][] viaBackend = {Tensors.toDoubles(out), Tensors.toDoubles(lse), Tensors.toDoubles(gradQ),
                    Tensors.toDoubles(gradK), Tensors.toDoubles(gradV)};
            for (int i = 0; i < direct.length; i++) {
                assertArrayEquals(direct[i], viaBackend[i], "output " + i);
            }
        } finally {
            threaded.shutdown();
        }
    }

    private double[][] run(Case c, Inputs in, ExecutorService pool, int parallelism, Scope scope) {
        double scale = 1 / Math.sqrt(c.d());
        Tensor out = backend.zeros(c.dtype(), in.q.shape(), scope);
        Tensor lse = backend.zeros(DType.F32, new int[]{c.batch(), c.hq(), c.s()}, scope);
        Tensor gradQ = backend.zeros(c.dtype(), in.q.shape(), scope);
        Tensor gradK = backend.zeros(c.dtype(), in.k.shape(), scope);
        Tensor gradV = backend.zeros(c.dtype(), in.v.shape(), scope);
        Attention.forward(in.q, in.k, in.v, in.mask, c.causal(), scale, out, lse, pool, parallelism);
        Attention.backward(in.q, in.k, in.v, in.mask, c.causal(), scale, out, lse, in.gradOut, gradQ, gradK, gradV,
                pool, parallelism);
        return new double[][]{Tensors.toDoubles(out), Tensors.toDoubles(lse), Tensors.toDoubles(gradQ),
                Tensors.toDoubles(gradK), Tensors.toDoubles(gradV)};
    }

    @Test
    void rejectsMismatchedShapes() {
        try (Scope scope = Scope.open()) {
            Tensor q = backend.zeros(DType.F32, new int[]{1, 3, 4, 8}, scope);
            Tensor kv = backend.zeros(DType.F32, new int[]{1, 2, 4, 8}, scope);
            Tensor out = backend.zeros(DType.F32, new int[]{1, 3, 4, 8}, scope);
            Tensor lse = backend.zeros(DType.F32, new int[]{1, 3, 4}, scope);
            assertThrows(IllegalArgumentException.class,
                    () -> Attention.forward(q, kv, kv, null, false, 1, out, lse)); // 3 heads over 2 kv heads
            Tensor k1 = backend.zeros(DType.F32, new int[]{1, 1, 4, 8}, scope);
            Tensor badMask = backend.zeros(DType.U8, new int[]{1, 5}, scope);
            assertThrows(IllegalArgumentException.class,
                    () -> Attention.forward(q, k1, k1, badMask, false, 1, out, lse));
        }
    }

    // ---- inputs ----

    private record Inputs(Tensor q, Tensor k, Tensor v, Tensor gradOut, Tensor mask) {}

    private Inputs inputs(Case c, Random rnd) {
        Tensor q = c.transposed() ? transposed(c, rnd, c.hq(), c.s()) : random(c.dtype(), rnd, c.batch(), c.hq(), c.s(), c.d());
        Tensor k = random(c.dtype(), rnd, c.batch(), c.hkv(), c.t(), c.d());
        Tensor v = random(c.dtype(), rnd, c.batch(), c.hkv(), c.t(), c.d());
        Tensor gradOut = c.transposed() ? transposed(c, rnd, c.hq(), c.s()) : random(c.dtype(), rnd, c.batch(), c.hq(), c.s(), c.d());
        Tensor mask = null;
        if (c.mask() != Mask.NONE) {
            double[] m = new double[c.batch() * c.t()];
            Arrays.fill(m, 1);
            for (int b = 0; b < c.batch(); b++) {
                for (int j = 0; j < c.t(); j++) {
                    boolean hide = c.mask() == Mask.PADDING
                            ? (b == 0 ? c.t() >= 4 && (j == 1 || j == c.t() - 2) : j < 3)
                            : b == c.batch() - 1;
                    m[b * c.t() + j] = hide ? 0 : (j % 3 + 1); // any non-zero value keeps a key
                }
            }
            mask = Tensors.of(backend, c.mask() == Mask.PADDING ? DType.U8 : DType.F32, m, c.batch(), c.t());
        }
        return new Inputs(q, k, v, gradOut, mask);
    }

    private Tensor random(DType dtype, Random rnd, int... shape) {
        return KernelTests.uniform(backend, dtype, rnd, 1, shape);
    }

    /** A [b, h, n, d] view of a contiguous [b, n, h, d] tensor, as attention gets q after its head split. */
    private Tensor transposed(Case c, Random rnd, int h, int n) {
        Tensor base = random(c.dtype(), rnd, c.batch(), n, h, c.d());
        int d = c.d();
        return base.asStrided(new int[]{c.batch(), h, n, d}, new long[]{(long) n * h * d, d, (long) h * d, 1}, 0);
    }

    // ---- the oracle ----

    /** Naive attention in double over the materialised [s, t] scores, and its textbook backward. */
    private static final class Reference {
        final double[] out, lse, dq, dk, dv;

        Reference(Case c, double scale, double[] q, double[] k, double[] v, double[] mask, double[] dO) {
            int B = c.batch(), H = c.hq(), S = c.s(), T = c.t(), D = c.d(), group = c.hq() / c.hkv();
            out = new double[q.length];
            lse = new double[B * H * S];
            dq = new double[q.length];
            dk = new double[k.length];
            dv = new double[v.length];
            for (int b = 0; b < B; b++) {
                for (int h = 0; h < H; h++) {
                    int kvBase = (b * c.hkv() + h / group) * T * D;
                    for (int i = 0; i < S; i++) {
                        int qi = ((b * H + h) * S + i) * D;
                        double[] p = new double[T];
                        double max = Double.NEGATIVE_INFINITY;
                        for (int j = 0; j < T; j++) {
                            boolean visible = (!c.causal() || j <= i + T - S) && (mask == null || mask[b * T + j] != 0);
                            p[j] = visible ? scale * dot(q, qi, k, kvBase + j * D, D) : Double.NEGATIVE_INFINITY;
                            max = Math.max(max, p[j]);
                        }
                        if (max == Double.NEGATIVE_INFINITY) {
                            lse[(b * H + h) * S + i] = Double.NEGATIVE_INFINITY;
                            continue; // out and every gradient of the row stay zero
                        }
                        double sum = 0;
                        for (int j = 0; j < T; j++) {
                            p[j] = Math.exp(p[j] - max);
                            sum += p[j];
                        }
                        lse[(b * H + h) * S + i] = max + Math.log(sum);
                        double[] dp = new double[T];
                        double pdp = 0;
                        for (int j = 0; j < T; j++) {
                            p[j] /= sum;
                            for (int x = 0; x < D; x++) {
                                out[qi + x] += p[j] * v[kvBase + j * D + x];
                            }
                            dp[j] = dot(dO, qi, v, kvBase + j * D, D);
                            pdp += p[j] * dp[j];
                        }
                        for (int j = 0; j < T; j++) {
                            double ds = p[j] * (dp[j] - pdp);
                            for (int x = 0; x < D; x++) {
                                dq[qi + x] += scale * ds * k[kvBase + j * D + x];
                                dk[kvBase + j * D + x] += scale * ds * q[qi + x];
                                dv[kvBase + j * D + x] += p[j] * dO[qi + x];
                            }
                        }
                    }
                }
            }
        }

        private static double dot(double[] a, int ao, double[] b, int bo, int n) {
            double s = 0;
            for (int x = 0; x < n; x++) {
                s += a[ao + x] * b[bo + x];
            }
            return s;
        }
    }

    private static int countInfinite(double[] a) {
        int n = 0;
        for (double x : a) {
            n += x == Double.NEGATIVE_INFINITY ? 1 : 0;
        }
        return n;
    }

    /** Max error within tol * max(1, max |expected|); -inf must be matched exactly (lse of rows that see nothing). */
    private static void assertClose(double[] expected, double[] actual, double tol, String what) {
        assertEquals(expected.length, actual.length, what + " length");
        double scale = 1;
        for (double e : expected) {
            if (Double.isFinite(e)) {
                scale = Math.max(scale, Math.abs(e));
            }
        }
        double worst = 0;
        int at = -1;
        for (int i = 0; i < expected.length; i++) {
            if (expected[i] == Double.NEGATIVE_INFINITY) {
                assertEquals(Double.NEGATIVE_INFINITY, actual[i], what + "[" + i + "] should be -inf");
                continue;
            }
            double err = Math.abs(expected[i] - actual[i]);
            if (!(err <= worst)) {
                worst = err;
                at = i;
            }
        }
        assertTrue(worst <= tol * scale, what + ": max error " + worst + " at " + at + " exceeds " + tol * scale);
    }
}
