package ai.attune.api.autograd;

import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.BinaryOp;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.KernelOps;
import ai.attune.api.tensor.OpProfile;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Shape;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * {@code cross_entropy(hidden @ weight^T, targets)} without the logits: the output projection
 * and the loss run over chunks of rows, so only one chunk's logits [chunk, vocab] (and, in
 * training, their gradient) exist at a time instead of [rows, vocab] for the whole batch, which
 * for a 32000-word vocabulary is 128 KB a token, twice. As Liger-Kernel's fused linear
 * cross-entropy, each chunk's gradients are computed in the forward, while its logits are at
 * hand: grad_hidden[chunk] = grad_logits · W and grad_W += grad_logitsᵀ · h[chunk] with the
 * per-row loss gradient taken as 1; backward then only scales them by the upstream gradient.
 *
 * <p>The loss is the same bits as the unfused composition wherever the backend's product gives
 * each output element the same bits whatever the number of rows (each element summed over the
 * inner dim in a fixed order): per-row losses come from the same cross-entropy kernel on the
 * same logits, summed by the same reduction. grad_W is summed chunk by chunk in the weight's
 * dtype (f32 or f64), so it differs from one product over all rows in rounding alone.
 */
final class LinearCrossEntropy {
    /**
     * Bytes of one chunk's logits. Each chunk is one product against all of W, which the GEMM
     * packs again every call (V·d elements moved per 2·chunk·V·d FLOPs), so chunks must not be
     * tiny; past a few hundred rows the packing is under a percent of the product while the chunk
     * buffers (logits and their gradient) stay a few tens of MB: 256 rows for V = 32000 in f32.
     */
    static final long CHUNK_BYTES = 32L << 20;
    /** No fewer rows per chunk than this, however wide the vocabulary: below it W's packing starts to show. */
    static final int MIN_CHUNK_ROWS = 64;

    private LinearCrossEntropy() {}

    /** Rows per chunk for a vocabulary of {@code vocab} in {@code dtype}: a multiple of 16 (a GEMM micro-tile's rows). */
    static int chunkRows(int vocab, DType dtype) {
        long rows = CHUNK_BYTES / ((long) Math.max(vocab, 1) * dtype.byteSize());
        return (int) Math.max(MIN_CHUNK_ROWS, Math.min(Integer.MAX_VALUE, rows) / 16 * 16);
    }

    static Tensor apply(Tensor hidden, Tensor weight, Tensor targets, long ignoreIndex, F.Reduction reduction, int chunkRows) {
        if (hidden.rank() != 2 || weight.rank() != 2 || targets.rank() != 1 || hidden.size(1) != weight.size(1)
                || targets.size(0) != hidden.size(0)) {
            throw new IllegalArgumentException("linear_cross_entropy needs hidden [rows, d], weight [vocab, d] and targets [rows], got "
                    + Shape.str(hidden.shape()) + ", " + Shape.str(weight.shape()) + " and " + Shape.str(targets.shape()));
        }
        if (reduction == F.Reduction.NONE) {
            // grad_W sums over rows as it goes, so a per-row upstream gradient could not be applied to it.
            throw new IllegalArgumentException("linear_cross_entropy reduces with SUM or MEAN; for per-row losses use cross_entropy(linear(hidden, weight), ...)");
        }
        if (chunkRows < 1) {
            throw new IllegalArgumentException("linear_cross_entropy needs at least one row per chunk, got " + chunkRows);
        }
        DType dt = hidden.dtype();
        if (Autocast.dtype() != null || dt != weight.dtype() || (dt != DType.F32 && dt != DType.F64)) {
            // Mixed precision is defined by the unfused path's casts (the product in the low dtype,
            // the loss widened to f32), and low-precision weights by its rounding of the whole
            // logits: those keep the composition rather than approximate it chunk by chunk.
            return F.crossEntropy(F.linear(hidden, weight, null), targets, ignoreIndex, reduction);
        }
        long[] tg = Tensors.toLongs(targets);
        long count = 0;
        for (long t : tg) {
            if (t != ignoreIndex) {
                count++;
            }
        }
        Tensor h = Views.contiguous(hidden); // [rows, d]: row chunks are then contiguous views
        Tensor sum = forward(h, weight, Views.contiguous(targets), tg, ignoreIndex, chunkRows);
        return reduction == F.Reduction.SUM ? sum : Ops.mulScalar(sum, 1.0 / count); // MEAN as F.crossEntropy's
    }

    private static Tensor forward(Tensor h, Tensor w, Tensor targets, long[] tg, long ignore, int chunkRows) {
        Backend be = h.backend();
        DType dt = h.dtype();
        int rows = h.size(0);
        int d = h.size(1);
        int vocab = w.size(0);
        boolean grad = GradMode.isEnabled() && (h.requiresGrad() || w.requiresGrad());
        boolean gradH = grad && h.requiresGrad();
        boolean gradW = grad && w.requiresGrad();
        try (OpProfile.Op profiled = OpProfile.op(KernelOps.LINEAR_CROSS_ENTROPY)) {
            Scope out = Scope.current();
            // Zero-filled: a chunk with no target is skipped and keeps loss 0 and gradient 0.
            Tensor perRow = be.zeros(dt, new int[] {rows}, out); // [rows]
            Tensor gh = gradH ? be.zeros(dt, new int[] {rows, d}, out) : null; // [rows, d]
            Tensor gw = gradW ? be.zeros(dt, new int[] {vocab, d}, out) : null; // [vocab, d], summed over chunks
            int c = Math.max(1, Math.min(chunkRows, rows));
            // grad_W's per-chunk product goes through a buffer no larger than a chunk's logits, in vocabulary blocks.
            int vb = (int) Math.clamp((long) c * vocab / Math.max(d, 1), 1, Math.max(vocab, 1));
            try (Scope chunks = Scope.detached("linear_cross_entropy chunks")) {
                Tensor logits = be.empty(dt, new int[] {c, vocab}, chunks); // [c, vocab], reused by every chunk
                Tensor lse = be.empty(dt, new int[] {c}, chunks);
                Tensor gl = grad ? be.empty(dt, new int[] {c, vocab}, chunks) : null; // [c, vocab]
                Tensor part = gradW ? be.empty(dt, new int[] {vb, d}, chunks) : null; // [vb, d]
                Tensor ones = grad ? be.empty(dt, new int[] {c}, chunks) : null; // [c]: the per-row loss gradient
                if (ones != null) {
                    be.fill(ones, 1.0);
                }
                for (int r0 = 0; r0 < rows; r0 += c) {
                    int n = Math.min(c, rows - r0);
                    if (allIgnored(tg, r0, n, ignore)) {
                        continue;
                    }
                    Tensor hc = rowsOf(h, r0, n); // [n, d]
                    Tensor lc = rowsOf(logits, 0, n); // [n, vocab]
                    Tensor tc = targets.asStrided(new int[] {n}, new long[] {1}, targets.offset() + r0);
                    Tensor lsec = rowsOf(lse, 0, n);
                    be.matmul(hc, false, w, true, lc);
                    be.crossEntropy(lc, tc, ignore, rowsOf(perRow, r0, n), lsec);
                    if (!grad) {
                        continue;
                    }
                    Tensor gc = rowsOf(gl, 0, n); // [n, vocab]: softmax - onehot, zero on ignored rows
                    be.crossEntropyBackward(lc, tc, ignore, lsec, rowsOf(ones, 0, n), gc);
                    if (gradH) {
                        be.matmul(gc, false, w, false, rowsOf(gh, r0, n)); // [n, vocab] · [vocab, d]
                    }
                    if (gradW) {
                        for (int v0 = 0; v0 < vocab; v0 += vb) {
                            int m = Math.min(vb, vocab - v0);
                            Tensor gcv = gc.asStrided(new int[] {n, m}, new long[] {vocab, 1}, gc.offset() + v0); // [n, m]
                            Tensor pv = rowsOf(part, 0, m); // [m, d]
                            be.matmul(gcv, true, hc, false, pv); // [m, n] · [n, d]
                            Tensor gwv = rowsOf(gw, v0, m);
                            be.binary(BinaryOp.ADD, gwv, pv, gwv);
                        }
                    }
                }
            }
            Tensor loss;
            try (GradMode.Region ng = GradMode.noGrad()) {
                loss = Ops.sum(perRow); // [], as F.crossEntropy's SUM reduces its per-row losses
            }
            if (grad) {
                loss.setGradFn(new Node(h, w, gh, gw), 0);
            }
            return loss;
        }
    }

    private static boolean allIgnored(long[] tg, int from, int n, long ignore) {
        for (int i = from; i < from + n; i++) {
            if (tg[i] != ignore) {
                return false;
            }
        }
        return true;
    }

    /** Rows [from, from + n) of contiguous {@code t} ([rows, cols] or [rows]), a contiguous view. */
    private static Tensor rowsOf(Tensor t, int from, int n) {
        if (t.rank() == 1) {
            return t.asStrided(new int[] {n}, new long[] {1}, t.offset() + from);
        }
        int cols = t.size(1);
        return t.asStrided(new int[] {n, cols}, new long[] {cols, 1}, t.offset() + (long) from * cols);
    }

    /** The summed loss's node: its input gradients were computed in the forward; backward scales them by the upstream scalar. */
    private static final class Node implements ai.attune.api.autograd.Node {
        private final List<Tensor> inputs;
        private final Tensor gradHidden;
        private final Tensor gradWeight;

        Node(Tensor hidden, Tensor weight, Tensor gradHidden, Tensor gradWeight) {
            this.inputs = Arrays.asList(hidden, weight);
            this.gradHidden = gradHidden;
            this.gradWeight = gradWeight;
        }

        @Override
        public String name() {
            return "linear_cross_entropy";
        }

        @Override
        public List<Tensor> inputs() {
            return inputs;
        }

        @Override
        public int outputCount() {
            return 1;
        }

        @Override
        public List<Tensor> saved() {
            List<Tensor> s = new ArrayList<>(2);
            if (gradHidden != null) {
                s.add(gradHidden);
            }
            if (gradWeight != null) {
                s.add(gradWeight);
            }
            return s;
        }

        @Override
        public Tensor[] backward(Tensor[] gradOutputs) {
            Tensor g = gradOutputs[0]; // []
            return new Tensor[] {gradHidden == null ? null : Ops.mul(gradHidden, g), gradWeight == null ? null : Ops.mul(gradWeight, g)};
        }
    }
}
