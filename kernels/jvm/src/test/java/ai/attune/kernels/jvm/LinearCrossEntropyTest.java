package ai.attune.kernels.jvm;

import ai.attune.api.autograd.Autocast;
import ai.attune.api.autograd.Autograd;
import ai.attune.api.autograd.F;
import ai.attune.api.autograd.GradMode;
import ai.attune.api.autograd.Ops;
import ai.attune.api.tensor.BlockPool;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * F.linearCrossEntropy against its oracle, the unfused {@code cross_entropy(linear(h, W))}, on
 * sizes the chunking has to get right: rows not a multiple of the chunk, ignored targets, a chunk
 * with no target at all, a vocabulary wider than a vector register with a tail. (The f64
 * finite-difference check is in the op catalog's gradient suite.)
 */
class LinearCrossEntropyTest {
    static final int ROWS = 301;
    static final int D = 40;
    static final int VOCAB = 1003;
    static final int CHUNK = 64;
    static final long IGNORE = -100;
    private final JvmBackend be = new JvmBackend();

    record Result(double loss, double[] gradH, double[] gradW) {}

    /** Targets: ~20% ignored, and rows 64..127 (the second chunk) all ignored. */
    static long[] targets(Random r) {
        long[] t = new long[ROWS];
        for (int i = 0; i < ROWS; i++) {
            t[i] = i >= CHUNK && i < 2 * CHUNK || r.nextDouble() < 0.2 ? IGNORE : r.nextInt(VOCAB);
        }
        return t;
    }

    static double[] normal(Random r, int n, double scale) {
        double[] x = new double[n];
        for (int i = 0; i < n; i++) {
            x[i] = r.nextGaussian() * scale;
        }
        return x;
    }

    Result run(boolean fused, F.Reduction reduction, boolean hiddenGrad, boolean weightGrad, double upstream) {
        Random r = new Random(11);
        double[] h = normal(r, ROWS * D, 1.0);
        double[] w = normal(r, VOCAB * D, 0.5);
        long[] t = targets(r);
        try (Scope s = Scope.open("lce")) {
            Tensor ht = Tensors.of(be, DType.F32, h, ROWS, D).requiresGrad(hiddenGrad);
            Tensor wt = Tensors.of(be, DType.F32, w, VOCAB, D).requiresGrad(weightGrad);
            Tensor tt = Tensors.ofLongs(be, t, ROWS);
            Tensor loss = fused ? F.linearCrossEntropy(ht, wt, tt, IGNORE, reduction, CHUNK)
                    : F.crossEntropy(F.linear(ht, wt, null), tt, IGNORE, reduction);
            double value = Tensors.item(loss);
            if (hiddenGrad || weightGrad) {
                Autograd.backward(Ops.mulScalar(loss, upstream));
            }
            return new Result(value, ht.grad() == null ? null : Tensors.toDoubles(ht.grad()), wt.grad() == null ? null : Tensors.toDoubles(wt.grad()));
        }
    }

    static void close(String what, double[] want, double[] got, double tol) {
        assertEquals(want.length, got.length, what);
        double scale = 0;
        for (double v : want) {
            scale = Math.max(scale, Math.abs(v));
        }
        assertTrue(scale > 0, what + " is all zeros");
        for (int i = 0; i < want.length; i++) {
            double err = Math.abs(want[i] - got[i]);
            assertTrue(err <= tol * scale, what + "[" + i + "]: " + got[i] + " vs unfused " + want[i]);
        }
    }

    @Test
    void sumMatchesUnfusedLossAndGradients() {
        Result want = run(false, F.Reduction.SUM, true, true, 0.37);
        Result got = run(true, F.Reduction.SUM, true, true, 0.37);
        assertEquals(want.loss, got.loss, 1e-6 * Math.abs(want.loss));
        // The upstream scale multiplies after the products instead of before, and grad_W is summed chunk by chunk: rounding alone
        close("grad_hidden", want.gradH, got.gradH, 1e-5);
        close("grad_W", want.gradW, got.gradW, 1e-5);
        // an all-ignored chunk's rows get no gradient
        for (int i = CHUNK * D; i < 2 * CHUNK * D; i++) {
            assertEquals(0.0, got.gradH[i]);
        }
    }

    @Test
    void meanMatchesUnfused() {
        Result want = run(false, F.Reduction.MEAN, true, true, 1.0);
        Result got = run(true, F.Reduction.MEAN, true, true, 1.0);
        assertEquals(want.loss, got.loss, 1e-6 * Math.abs(want.loss));
        close("grad_hidden", want.gradH, got.gradH, 1e-5);
        close("grad_W", want.gradW, got.gradW, 1e-5);
    }

    @Test
    void frozenWeightGetsNoGradient() {
        Result want = run(false, F.Reduction.SUM, true, false, 1.0);
        Result got = run(true, F.Reduction.SUM, true, false, 1.0);
        assertNull(got.gradW);
        assertEquals(want.loss, got.loss, 1e-6 * Math.abs(want.loss));
        close("grad_hidden", want.gradH, got.gradH, 1e-6);
    }

    @Test
    void weightAloneGetsItsGradient() {
        Result want = run(false, F.Reduction.SUM, false, true, 1.0);
        Result got = run(true, F.Reduction.SUM, false, true, 1.0);
        assertNull(got.gradH);
        close("grad_W", want.gradW, got.gradW, 1e-5);
    }

    @Test
    void withoutGradItDoesNoGradientWork() {
        Random r = new Random(5);
        try (Scope s = Scope.open("eval"); GradMode.Region ng = GradMode.noGrad()) {
            Tensor h = Tensors.of(be, DType.F32, normal(r, ROWS * D, 1.0), ROWS, D).requiresGrad(true);
            Tensor w = Tensors.of(be, DType.F32, normal(r, VOCAB * D, 0.5), VOCAB, D).requiresGrad(true);
            Tensor t = Tensors.ofLongs(be, targets(r), ROWS);
            double want = Tensors.item(F.crossEntropy(F.linear(h, w, null), t, IGNORE, F.Reduction.SUM));
            BlockPool.trim(); // no cached block larger than a request stands in for it
            long before = BlockPool.liveBytes();
            BlockPool.resetPeak();
            Tensor loss = F.linearCrossEntropy(h, w, t, IGNORE, F.Reduction.SUM, CHUNK);
            long peak = BlockPool.peakBytes() - before;
            assertEquals(want, Tensors.item(loss), 1e-6 * Math.abs(want));
            assertNull(loss.gradFn());
            // one chunk's logits and log-sum-exps, the per-row losses and the sum (each rounded up to a pool block): no gradient buffer
            long logitsChunk = (long) CHUNK * VOCAB * 4;
            assertTrue(peak < 2 * logitsChunk, "peak " + peak + " bytes with a " + logitsChunk + "-byte chunk of logits");
        }
    }

    @Test
    void underAutocastItIsTheUnfusedComposition() {
        Random r = new Random(9);
        try (Scope s = Scope.open("autocast"); Autocast.Region ac = Autocast.enable(DType.BF16)) {
            Tensor h = Tensors.of(be, DType.F32, normal(r, 20 * 8, 1.0), 20, 8).requiresGrad(true);
            Tensor w = Tensors.of(be, DType.F32, normal(r, 50 * 8, 0.5), 50, 8).requiresGrad(true);
            Tensor t = Tensors.ofLongs(be, new Random(1).longs(20, 0, 50).toArray(), 20);
            double want = Tensors.item(F.crossEntropy(F.linear(h, w, null), t, IGNORE, F.Reduction.SUM));
            assertEquals(want, Tensors.item(F.linearCrossEntropy(h, w, t, IGNORE, F.Reduction.SUM, 4)));
        }
    }

    @Test
    void refusesPerRowLosses() {
        try (Scope s = Scope.open("none")) {
            Tensor h = Ops.zeros(be, DType.F32, 2, 3);
            Tensor w = Ops.zeros(be, DType.F32, 4, 3);
            Tensor t = Tensors.ofLongs(be, new long[] {1, 2}, 2);
            assertThrows(IllegalArgumentException.class, () -> F.linearCrossEntropy(h, w, t, IGNORE, F.Reduction.NONE));
        }
    }

    @Test
    void chunkHoldsAFewTensOfMegabytesOfLogits() {
        // 256 rows of a 32000-word vocabulary in f32 is 32.8 MB; a narrow vocabulary takes every row of a batch at once
        try (Scope s = Scope.open("chunk")) {
            Tensor h = Ops.zeros(be, DType.F32, 300, 8);
            Tensor w = Ops.zeros(be, DType.F32, 32000, 8);
            Tensor t = Tensors.ofLongs(be, new long[300], 300);
            BlockPool.trim();
            BlockPool.resetPeak();
            long before = BlockPool.liveBytes();
            try (GradMode.Region ng = GradMode.noGrad()) {
                F.linearCrossEntropy(h, w, t, IGNORE, F.Reduction.SUM);
            }
            long peak = BlockPool.peakBytes() - before;
            assertTrue(peak >= 256L * 32000 * 4 && peak < 300L * 32000 * 4, "peak " + peak);
        }
    }
}
