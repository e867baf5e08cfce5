package ai.attune.kernels.jvm;

import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;
import ai.attune.api.tensor.UnaryOp;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static ai.attune.kernels.jvm.KernelTests.BE;
import static ai.attune.kernels.jvm.KernelTests.POOL;
import static ai.attune.kernels.jvm.KernelTests.floats;
import static ai.attune.kernels.jvm.KernelTests.uniform;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The vectorized, pool-parallel activation, norm and cross-entropy kernels against the scalar reference
 * (Activations and Normalization, in double) over shapes whose rows do not divide into the
 * parallel blocks and whose columns do not divide into vectors, and bit for bit the same with one
 * thread and with several.
 */
class FastRowKernelsTest {
    private static final int[][] SHAPES = {{1, 1}, {3, 7}, {37, 19}, {53, 301}, {5, 40000}};

    private static void close(String what, float[] want, float[] got, double rel) {
        close(what, want, got, rel, 1e-3);
    }

    /** Within rel of the larger of the reference's largest magnitude and floor. */
    private static void close(String what, float[] want, float[] got, double rel, double floor) {
        double scale = floor;
        for (float v : want) {
            scale = Math.max(scale, Math.abs(v));
        }
        for (int i = 0; i < want.length; i++) {
            double err = Math.abs(want[i] - got[i]);
            assertTrue(err <= rel * scale || (Float.isNaN(want[i]) && Float.isNaN(got[i])),
                    what + "[" + i + "]: " + got[i] + " vs reference " + want[i]);
        }
    }

    @Test
    void activationsForwardAndBackwardMatchTheReferenceForAnyThreadCount() {
        for (UnaryOp op : new UnaryOp[] {UnaryOp.SILU, UnaryOp.SIGMOID, UnaryOp.TANH, UnaryOp.GELU_ERF, UnaryOp.GELU_TANH}) {
            for (int[] shape : SHAPES) {
                try (Scope s = Scope.open("test")) {
                    Random r = new Random(shape[0] * 31L + shape[1]);
                    Tensor x = uniform(r, 12, shape), g = uniform(r, 1, shape);
                    Tensor ref = BE.empty(DType.F32, shape, s), one = BE.empty(DType.F32, shape, s), many = BE.empty(DType.F32, shape, s);
                    Elementwise.unary(op, x, ref);
                    assertTrue(FastActivations.unary(op, x, one, null, 1));
                    assertTrue(FastActivations.unary(op, x, many, POOL, 4));
                    close(op + " " + shape[0] + "x" + shape[1], floats(ref), floats(one), 1e-6);
                    assertArrayEquals(floats(one), floats(many), op + " forward, 1 vs 4 threads");

                    Elementwise.unaryBackward(op, x, g, ref);
                    assertTrue(FastActivations.unaryBackward(op, x, g, one, null, 1));
                    assertTrue(FastActivations.unaryBackward(op, x, g, many, POOL, 4));
                    close(op + " backward " + shape[0] + "x" + shape[1], floats(ref), floats(one), 1e-6);
                    assertArrayEquals(floats(one), floats(many), op + " backward, 1 vs 4 threads");
                }
            }
        }
    }

    @Test
    void siluBackwardSaturatesWithoutNaN() {
        try (Scope s = Scope.open("test")) {
            float[] xs = {-200f, -90f, -88.5f, -20f, 0f, 20f, 88.5f, 90f, 200f, -1e30f, 1e30f, 0.5f, -0.5f, 3f, -3f, 1f};
            Tensor x = Tensors.of(BE, xs, xs.length);
            Tensor g = Tensors.of(BE, new float[xs.length], xs.length);
            BE.fill(g, 1.0);
            Tensor ref = BE.empty(DType.F32, new int[] {xs.length}, s), got = BE.empty(DType.F32, new int[] {xs.length}, s);
            Elementwise.unaryBackward(UnaryOp.SILU, x, g, ref);
            assertTrue(FastActivations.unaryBackward(UnaryOp.SILU, x, g, got, null, 1));
            close("silu' at the edges", floats(ref), floats(got), 1e-6);
        }
    }

    /**
     * GELU pointwise over [-8, 8], where a check relative to the largest value would hide the left
     * tail: within a few 1e-7 of max(1, |x|), the erf form's error being mostly A&S 7.1.26's 1.5e-7
     * in erf; and saturation without NaN far out.
     */
    @Test
    void geluIsCloseEverywhereAndSaturates() {
        int n = 4001;
        float[] xs = new float[n + 8];
        for (int i = 0; i < n; i++) {
            xs[i] = -8f + 16f * i / (n - 1);
        }
        float[] edges = {-1e30f, -1e20f, -1e10f, -20f, 20f, 1e10f, 1e20f, 1e30f};
        System.arraycopy(edges, 0, xs, n, edges.length);
        try (Scope s = Scope.open("test")) {
            Tensor x = Tensors.of(BE, xs, xs.length);
            Tensor g = Tensors.of(BE, new float[xs.length], xs.length);
            BE.fill(g, 1.0);
            for (UnaryOp op : new UnaryOp[] {UnaryOp.GELU_ERF, UnaryOp.GELU_TANH}) {
                Tensor ref = BE.empty(DType.F32, new int[] {xs.length}, s), got = BE.empty(DType.F32, new int[] {xs.length}, s);
                Tensor dRef = BE.empty(DType.F32, new int[] {xs.length}, s), dGot = BE.empty(DType.F32, new int[] {xs.length}, s);
                Elementwise.unary(op, x, ref);
                assertTrue(FastActivations.unary(op, x, got, POOL, 4));
                Elementwise.unaryBackward(op, x, g, dRef);
                assertTrue(FastActivations.unaryBackward(op, x, g, dGot, POOL, 4));
                float[] want = floats(ref), have = floats(got), dWant = floats(dRef), dHave = floats(dGot);
                double worst = 0, dWorst = 0;
                for (int i = 0; i < xs.length; i++) {
                    assertTrue(!Float.isNaN(have[i]) && !Float.isNaN(dHave[i]), op + " at " + xs[i] + ": " + have[i] + ", " + dHave[i]);
                    double unit = Math.max(1, Math.abs(xs[i]));
                    worst = Math.max(worst, Math.abs(want[i] - have[i]) / unit);
                    dWorst = Math.max(dWorst, Math.abs(dWant[i] - dHave[i]) / unit);
                }
                // measured: erf form 1.51e-7 and 1.79e-7, tanh form 1.19e-7 and 1.19e-7
                double bound = op == UnaryOp.GELU_ERF ? 2.5e-7 : 2e-7;
                assertTrue(worst <= bound, op + ": worst error " + worst + " per max(1, |x|)");
                assertTrue(dWorst <= bound, op + " derivative: worst error " + dWorst + " per max(1, |x|)");
            }
        }
    }

    @Test
    void rmsNormMatchesTheReferenceForAnyThreadCount() {
        for (int[] shape : SHAPES) {
            for (boolean weighted : new boolean[] {true, false}) {
                try (Scope s = Scope.open("test")) {
                    Random r = new Random(shape[0] * 17L + shape[1]);
                    int rows = shape[0], n = shape[1];
                    Tensor x = uniform(r, 3, shape), gy = uniform(r, 1, shape);
                    Tensor w = weighted ? uniform(r, 2, n) : null;
                    String what = "rms_norm " + rows + "x" + n + (weighted ? "" : " no weight");

                    Tensor[] out = new Tensor[3], rstd = new Tensor[3], gx = new Tensor[3], gw = new Tensor[3];
                    for (int k = 0; k < 3; k++) {
                        out[k] = BE.empty(DType.F32, shape, s);
                        rstd[k] = BE.empty(DType.F32, new int[] {rows}, s);
                        gx[k] = BE.empty(DType.F32, shape, s);
                        gw[k] = BE.zeros(DType.F32, new int[] {n}, s);
                        BE.fill(gw[k], 0.25); // the weight gradient accumulates
                    }
                    Normalization.rmsNorm(x, w, 1e-5, out[0], rstd[0]);
                    assertTrue(FastNormalization.rmsNorm(x, w, 1e-5, out[1], rstd[1], null, 1));
                    assertTrue(FastNormalization.rmsNorm(x, w, 1e-5, out[2], rstd[2], POOL, 4));
                    close(what + " rstd", floats(rstd[0]), floats(rstd[1]), 1e-6);
                    close(what, floats(out[0]), floats(out[1]), 2e-6);
                    assertArrayEquals(floats(out[1]), floats(out[2]), what + ", 1 vs 4 threads");
                    assertArrayEquals(floats(rstd[1]), floats(rstd[2]), what + " rstd, 1 vs 4 threads");

                    Tensor gwRef = weighted ? gw[0] : null;
                    Normalization.rmsNormBackward(x, w, rstd[0], gy, gx[0], gwRef);
                    assertTrue(FastNormalization.rmsNormBackward(x, w, rstd[0], gy, gx[1], weighted ? gw[1] : null, null, 1));
                    assertTrue(FastNormalization.rmsNormBackward(x, w, rstd[0], gy, gx[2], weighted ? gw[2] : null, POOL, 4));
                    // gx = rs * (gy * w - xhat * mean(gy * w * xhat)) cancels (to 0 for one column), so its
                    // error is relative to the terms: |gy| <= 1, |w| <= 2, rs.
                    double terms = 0;
                    for (float v : floats(rstd[0])) {
                        terms = Math.max(terms, v * 2.0);
                    }
                    close(what + " grad x", floats(gx[0]), floats(gx[1]), 1e-5, terms);
                    assertArrayEquals(floats(gx[1]), floats(gx[2]), what + " grad x, 1 vs 4 threads");
                    if (weighted) {
                        close(what + " grad w", floats(gw[0]), floats(gw[1]), 1e-5);
                        assertArrayEquals(floats(gw[1]), floats(gw[2]), what + " grad w, 1 vs 4 threads");
                    }
                }
            }
        }
    }

    @Test
    void layerNormMatchesTheReferenceForAnyThreadCount() {
        for (int[] shape : SHAPES) {
            // weight and bias, neither, weight alone; the last on rows offset by 1000, whose mean dwarfs their spread
            for (int variant = 0; variant < 3; variant++) {
                try (Scope s = Scope.open("test")) {
                    Random r = new Random(shape[0] * 23L + shape[1] + variant);
                    int rows = shape[0], n = shape[1];
                    Tensor x = uniform(r, 3, shape), gy = uniform(r, 1, shape);
                    if (variant == 2) {
                        Tensor shifted = BE.empty(DType.F32, shape, s);
                        BE.scalar(ai.attune.api.tensor.ScalarOp.ADD, x, 1000, shifted);
                        x = shifted;
                    }
                    Tensor w = variant != 1 ? uniform(r, 2, n) : null;
                    Tensor b = variant == 0 ? uniform(r, 1, n) : null;
                    String what = "layer_norm " + rows + "x" + n + (variant == 0 ? "" : variant == 1 ? " plain" : " weight only, mean 1000");

                    Tensor[] out = new Tensor[3], mean = new Tensor[3], rstd = new Tensor[3], gx = new Tensor[3], gw = new Tensor[3], gb = new Tensor[3];
                    for (int k = 0; k < 3; k++) {
                        out[k] = BE.empty(DType.F32, shape, s);
                        mean[k] = BE.empty(DType.F32, new int[] {rows}, s);
                        rstd[k] = BE.empty(DType.F32, new int[] {rows}, s);
                        gx[k] = BE.empty(DType.F32, shape, s);
                        gw[k] = BE.empty(DType.F32, new int[] {n}, s);
                        gb[k] = BE.empty(DType.F32, new int[] {n}, s);
                        BE.fill(gw[k], 0.25); // the parameter gradients accumulate
                        BE.fill(gb[k], -0.5);
                    }
                    Normalization.layerNorm(x, w, b, 1e-5, out[0], mean[0], rstd[0]);
                    assertTrue(FastNormalization.layerNorm(x, w, b, 1e-5, out[1], mean[1], rstd[1], null, 1));
                    assertTrue(FastNormalization.layerNorm(x, w, b, 1e-5, out[2], mean[2], rstd[2], POOL, 4));
                    close(what + " mean", floats(mean[0]), floats(mean[1]), 1e-6, 3); // a mean near 0 is a cancelling sum of values up to 3
                    close(what + " rstd", floats(rstd[0]), floats(rstd[1]), 1e-6);
                    close(what, floats(out[0]), floats(out[1]), 2e-6);
                    assertArrayEquals(floats(out[1]), floats(out[2]), what + ", 1 vs 4 threads");
                    assertArrayEquals(floats(mean[1]), floats(mean[2]), what + " mean, 1 vs 4 threads");
                    assertArrayEquals(floats(rstd[1]), floats(rstd[2]), what + " rstd, 1 vs 4 threads");

                    Tensor gwRef = w != null ? gw[0] : null, gbRef = b != null ? gb[0] : null;
                    Normalization.layerNormBackward(x, w, mean[0], rstd[0], gy, gx[0], gwRef, gbRef);
                    for (int k = 1; k < 3; k++) {
                        assertTrue(FastNormalization.layerNormBackward(x, w, mean[0], rstd[0], gy, gx[k], w != null ? gw[k] : null,
                                b != null ? gb[k] : null, k == 1 ? null : POOL, k == 1 ? 1 : 4));
                    }
                    // gx = rs * (gh - mean(gh) - xhat * mean(gh * xhat)) cancels (to 0 for one column), so its
                    // error is relative to the terms: |gy| <= 1, |w| <= 2, rs.
                    double terms = 0;
                    for (float v : floats(rstd[0])) {
                        terms = Math.max(terms, v * 2.0);
                    }
                    close(what + " grad x", floats(gx[0]), floats(gx[1]), 1e-5, terms);
                    assertArrayEquals(floats(gx[1]), floats(gx[2]), what + " grad x, 1 vs 4 threads");
                    if (w != null) {
                        close(what + " grad w", floats(gw[0]), floats(gw[1]), 1e-5);
                        assertArrayEquals(floats(gw[1]), floats(gw[2]), what + " grad w, 1 vs 4 threads");
                    }
                    if (b != null) {
                        close(what + " grad b", floats(gb[0]), floats(gb[1]), 1e-5);
                        assertArrayEquals(floats(gb[1]), floats(gb[2]), what + " grad b, 1 vs 4 threads");
                    }
                }
            }
        }
    }

    @Test
    void crossEntropyForwardMatchesTheReferenceForAnyThreadCount() {
        // {1000, 37}: units of 442 rows, the last one partial
        for (int[] shape : new int[][] {{1, 1}, {3, 7}, {37, 19}, {53, 301}, {5, 40000}, {3, 32003}, {1000, 37}}) {
            try (Scope s = Scope.open("test")) {
                Random r = new Random(shape[0] * 11L + shape[1]);
                int rows = shape[0], classes = shape[1];
                Tensor logits = uniform(r, 8, shape);
                long[] t = new long[rows];
                for (int i = 0; i < rows; i++) {
                    t[i] = i % 5 == 3 ? -100 : r.nextInt(classes); // every fifth row ignored
                }
                Tensor targets = Tensors.ofLongs(BE, t, rows);
                Tensor[] loss = new Tensor[3], lse = new Tensor[3];
                for (int k = 0; k < 3; k++) {
                    loss[k] = BE.empty(DType.F32, new int[] {rows}, s);
                    lse[k] = BE.empty(DType.F32, new int[] {rows}, s);
                    BE.fill(loss[k], 7.0); // ignored rows must be overwritten with zeros
                }
                CrossEntropy.forward(logits, targets, -100, loss[0], lse[0]);
                assertTrue(FastCrossEntropy.forward(logits, targets, -100, loss[1], lse[1], null, 1));
                assertTrue(FastCrossEntropy.forward(logits, targets, -100, loss[2], lse[2], POOL, 4));
                String what = "cross_entropy " + rows + "x" + classes;
                // lse = max + log(sum): an f32 exp of 2 ulp and f32 partial sums move it by a few 1e-7.
                close(what + " lse", floats(lse[0]), floats(lse[1]), 1e-6);
                close(what, floats(loss[0]), floats(loss[1]), 1e-6);
                for (int i = 3; i < rows; i += 5) {
                    assertTrue(floats(loss[1])[i] == 0f, what + ": ignored row " + i + " has loss 0");
                }
                assertArrayEquals(floats(loss[1]), floats(loss[2]), what + ", 1 vs 4 threads");
                assertArrayEquals(floats(lse[1]), floats(lse[2]), what + " lse, 1 vs 4 threads");
            }
        }
    }

    @Test
    void crossEntropyForwardKeepsTheReferenceAtTheEdges() {
        try (Scope s = Scope.open("test")) {
            // one dominant logit (loss ~ 0, other terms underflow), a flat row (loss = log 35), a spread of 2000
            int classes = 35;
            double[] v = new double[3 * classes];
            for (int j = 0; j < classes; j++) {
                v[j] = j == 4 ? 120 : -3;
                v[classes + j] = 0.25;
                v[2 * classes + j] = -1000 + 2000.0 * j / (classes - 1);
            }
            Tensor logits = Tensors.of(BE, DType.F32, v, 3, classes);
            Tensor targets = Tensors.ofLongs(BE, new long[] {4, 0, 34}, 3);
            Tensor[] loss = {BE.empty(DType.F32, new int[] {3}, s), BE.empty(DType.F32, new int[] {3}, s)};
            Tensor[] lse = {BE.empty(DType.F32, new int[] {3}, s), BE.empty(DType.F32, new int[] {3}, s)};
            CrossEntropy.forward(logits, targets, -100, loss[0], lse[0]);
            assertTrue(FastCrossEntropy.forward(logits, targets, -100, loss[1], lse[1], POOL, 4));
            close("cross_entropy edges lse", floats(lse[0]), floats(lse[1]), 1e-6);
            assertArrayEquals(new float[] {0f, (float) Math.log(classes), 0f}, floats(loss[1]), 1e-6f);
            assertArrayEquals(floats(loss[0]), floats(loss[1]), 1e-6f);

            Tensor bad = Tensors.ofLongs(BE, new long[] {4, 35, 0}, 3);
            IndexOutOfBoundsException e = org.junit.jupiter.api.Assertions.assertThrows(IndexOutOfBoundsException.class,
                    () -> FastCrossEntropy.forward(logits, bad, -100, loss[1], lse[1], POOL, 4));
            assertTrue(e.getMessage().contains("target 35 of row 1"), e.getMessage());
        }
    }

    @Test
    void softmaxForwardAndBackwardMatchTheReferenceForAnyThreadCount() {
        // {700, 50}: units of 327 rows, the last one partial
        for (int[] shape : new int[][] {{1, 1}, {3, 7}, {37, 19}, {53, 301}, {5, 40000}, {2, 9, 33}, {700, 50}}) {
            for (boolean log : new boolean[] {false, true}) {
                try (Scope s = Scope.open("test")) {
                    Random r = new Random(shape[0] * 19L + shape[shape.length - 1]);
                    Tensor x = uniform(r, 8, shape), gy = uniform(r, 1, shape);
                    String what = (log ? "log_softmax " : "softmax ") + java.util.Arrays.toString(shape);
                    Tensor ref = BE.empty(DType.F32, shape, s), one = BE.empty(DType.F32, shape, s), many = BE.empty(DType.F32, shape, s);
                    Normalization.softmax(x, log, ref);
                    assertTrue(FastSoftmax.softmax(x, log, one, null, 1));
                    assertTrue(FastSoftmax.softmax(x, log, many, POOL, 4));
                    close(what, floats(ref), floats(one), 1e-6);
                    assertArrayEquals(floats(one), floats(many), what + ", 1 vs 4 threads");

                    // Both backwards from the reference's y, so only the backward's own error shows.
                    Tensor gxRef = BE.empty(DType.F32, shape, s), gx = BE.empty(DType.F32, shape, s), gxMany = BE.empty(DType.F32, shape, s);
                    Normalization.softmaxBackward(ref, gy, log, gxRef);
                    assertTrue(FastSoftmax.softmaxBackward(ref, gy, log, gx, null, 1));
                    assertTrue(FastSoftmax.softmaxBackward(ref, gy, log, gxMany, POOL, 4));
                    close(what + " backward", floats(gxRef), floats(gx), 1e-6);
                    assertArrayEquals(floats(gx), floats(gxMany), what + " backward, 1 vs 4 threads");
                }
            }
        }
    }

    /** [batch, heads, seq, headDim]: half dims a multiple of the vector, below it, and with a tail. */
    private static final int[][] ROPE_SHAPES = {{2, 3, 5, 64}, {1, 2, 7, 6}, {3, 4, 9, 42}, {1, 1, 1, 2}, {2, 12, 33, 128}};

    @Test
    void ropeEqualsTheReferenceBitForBitForAnyThreadCount() {
        for (int[] shape : ROPE_SHAPES) {
            for (boolean batched : new boolean[] {true, false}) {
                try (Scope s = Scope.open("test")) {
                    Random r = new Random(shape[2] * 7L + shape[3]);
                    int batch = shape[0], seq = shape[2];
                    Tensor x = uniform(r, 4, shape);
                    int posRows = batched ? batch : 1;
                    long[] p = new long[posRows * seq];
                    for (int i = 0; i < p.length; i++) {
                        p[i] = r.nextInt(5000); // beyond the first table: it grows
                    }
                    Tensor positions = Tensors.ofLongs(BE, p, posRows, seq);
                    float[] invFreq = ai.attune.api.autograd.F.ropeInvFreq(10000.0, shape[3]);
                    RopeTables tables = new RopeTables();
                    for (boolean inverse : new boolean[] {false, true}) {
                        String what = "rope " + java.util.Arrays.toString(shape) + (batched ? "" : " shared positions") + (inverse ? " inverse" : "");
                        Tensor ref = BE.empty(DType.F32, shape, s), one = BE.empty(DType.F32, shape, s), many = BE.empty(DType.F32, shape, s);
                        Rotary.rope(x, positions, invFreq, inverse, ref);
                        assertTrue(FastRotary.rope(x, positions, invFreq, inverse, one, tables, null, 1));
                        assertTrue(FastRotary.rope(x, positions, invFreq, inverse, many, tables, POOL, 4));
                        assertArrayEquals(floats(ref), floats(one), what);
                        assertArrayEquals(floats(one), floats(many), what + ", 1 vs 4 threads");
                    }
                }
            }
        }
    }

    @Test
    void ropeOnAStridedViewAndInPlaceEqualsTheReference() {
        try (Scope s = Scope.open("test")) {
            Random r = new Random(3);
            // [batch, seq, heads, headDim] seen as [batch, heads, seq, headDim], as attention's q and k are
            Tensor x = ai.attune.api.autograd.Views.transpose(uniform(r, 2, 2, 11, 3, 20), 1, 2);
            Tensor positions = Tensors.ofLongs(BE, java.util.stream.LongStream.range(0, 22).map(i -> i * 37 % 300).toArray(), 2, 11);
            float[] invFreq = ai.attune.api.autograd.F.ropeInvFreq(500000.0, 20);
            int[] shape = x.shape();
            Tensor ref = BE.empty(DType.F32, shape, s), got = BE.empty(DType.F32, shape, s);
            Rotary.rope(x, positions, invFreq, false, ref);
            assertTrue(FastRotary.rope(x, positions, invFreq, false, got, new RopeTables(), POOL, 4));
            assertArrayEquals(floats(ref), floats(got), "rope of a transposed view");

            Tensor inPlace = BE.empty(DType.F32, shape, s);
            BE.copy(x, inPlace);
            assertTrue(FastRotary.rope(inPlace, positions, invFreq, false, inPlace, new RopeTables(), POOL, 4));
            assertArrayEquals(floats(ref), floats(inPlace), "rope in place");

            Tensor negative = Tensors.ofLongs(BE, java.util.stream.LongStream.range(-1, 21).toArray(), 2, 11);
            assertTrue(!FastRotary.rope(x, negative, invFreq, false, got, new RopeTables(), POOL, 4), "a negative position takes the reference");
        }
    }

    @Test
    void ropeTablesGrowKeepingTheReferenceAngles() {
        float[] invFreq = ai.attune.api.autograd.F.ropeInvFreq(10000.0, 64);
        RopeTables tables = new RopeTables();
        RopeTables.Table small = tables.covering(invFreq, 10);
        RopeTables.Table big = tables.covering(invFreq.clone(), 1000);
        assertTrue(small.positions() > 10 && big.positions() > 1000, small.positions() + ", " + big.positions());
        assertTrue(tables.covering(invFreq, 999) == big, "a covered position reuses the table");
        for (int p : new int[] {0, 1, 10, 255, 256, 999, 1000}) {
            for (int i = 0; i < 32; i++) {
                float angle = (float) (long) p * invFreq[i];
                assertTrue(big.cos()[p * 32 + i] == (float) Math.cos(angle) && big.sin()[p * 32 + i] == (float) Math.sin(angle),
                        "angle of position " + p + ", frequency " + i);
            }
        }
        assertTrue(tables.covering(invFreq, RopeTables.MAX_ENTRIES / 32) == null, "a table past the cap is not built");
    }

    @Test
    void crossEntropyBackwardMatchesTheReferenceForAnyThreadCount() {
        for (int[] shape : SHAPES) {
            try (Scope s = Scope.open("test")) {
                Random r = new Random(shape[0] * 13L + shape[1]);
                int rows = shape[0], classes = shape[1];
                Tensor logits = uniform(r, 8, shape);
                long[] t = new long[rows];
                for (int i = 0; i < rows; i++) {
                    t[i] = i % 5 == 3 ? -100 : r.nextInt(classes); // every fifth row ignored
                }
                Tensor targets = Tensors.ofLongs(BE, t, rows);
                Tensor loss = BE.empty(DType.F32, new int[] {rows}, s), lse = BE.empty(DType.F32, new int[] {rows}, s);
                CrossEntropy.forward(logits, targets, -100, loss, lse);
                Tensor gradLoss = uniform(r, 1, rows);
                Tensor[] gl = new Tensor[3];
                for (int k = 0; k < 3; k++) {
                    gl[k] = BE.empty(DType.F32, shape, s);
                    BE.fill(gl[k], 7.0); // ignored rows must be overwritten with zeros
                }
                CrossEntropy.backward(logits, targets, -100, lse, gradLoss, gl[0]);
                assertTrue(FastCrossEntropy.backward(logits, targets, -100, lse, gradLoss, gl[1], null, 1));
                assertTrue(FastCrossEntropy.backward(logits, targets, -100, lse, gradLoss, gl[2], POOL, 4));
                String what = "cross_entropy_backward " + rows + "x" + classes;
                close(what, floats(gl[0]), floats(gl[1]), 1e-6);
                assertArrayEquals(floats(gl[1]), floats(gl[2]), what + ", 1 vs 4 threads");
            }
        }
    }
}
