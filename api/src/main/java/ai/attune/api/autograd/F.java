package ai.attune.api.autograd;

import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Shape;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.UnaryOp;

import java.util.Arrays;

/**
 * Neural-network ops with gradients, after {@code torch.nn.functional}: activations, softmax,
 * norms, rotary embeddings, embedding lookup, cross-entropy, dropout, linear, fused attention and
 * the output projection fused with cross-entropy.
 */
public final class F {
    private F() {}

    public static Tensor silu(Tensor x) {
        return Ops.unary(UnaryOp.SILU, x);
    }

    public static Tensor relu(Tensor x) {
        return Ops.unary(UnaryOp.RELU, x);
    }

    public static Tensor sigmoid(Tensor x) {
        return Ops.unary(UnaryOp.SIGMOID, x);
    }

    /** {@code F.gelu(x)} (erf) or, with {@code tanh}, {@code F.gelu(x, approximate="tanh")}. */
    public static Tensor gelu(Tensor x, boolean tanh) {
        return Ops.unary(tanh ? UnaryOp.GELU_TANH : UnaryOp.GELU_ERF, x);
    }

    /** {@code F.linear}: {@code x @ w^T + b}; x is [..., in], w [out, in], b [out] or null. */
    public static Tensor linear(Tensor x, Tensor w, Tensor b) {
        int[] xs = x.shape();
        int in = xs[xs.length - 1];
        Tensor x2 = Views.reshape(x, -1, in); // [rows, in]: one GEMM instead of a batch of small ones
        // [rows, out]; under autocast the whole of linear runs low precision, bias too
        Tensor y = b == null ? Ops.matmul(x2, false, w, true) : Ops.addmm(b, x2, false, w, true);
        int[] ys = xs.clone();
        ys[ys.length - 1] = w.size(0);
        return Views.reshape(y, ys);
    }

    /** {@code softmax(x, dim)}. */
    public static Tensor softmax(Tensor x, int dim) {
        return softmax(x, dim, false);
    }

    /** {@code log_softmax(x, dim)}. */
    public static Tensor logSoftmax(Tensor x, int dim) {
        return softmax(x, dim, true);
    }

    private static Tensor softmax(Tensor input, int dim, boolean log) {
        Tensor x = Autocast.widen(input);
        int d = Shape.dim(dim, x.rank());
        if (d != x.rank() - 1) {
            // The kernel works on the last dim; other dims go through a transposed copy.
            Tensor moved = Views.contiguous(Views.transpose(x, d, -1));
            return Views.transpose(softmax(moved, -1, log), d, -1);
        }
        Tensor out = Ops.uninitialized(x, x.dtype(), x.shape()); // the kernels write every element
        x.backend().softmax(x, log, out);
        return OpNode.record(log ? "log_softmax" : "softmax", out, new Tensor[] {x}, g -> {
            Tensor gx = Ops.uninitialized(x, x.dtype(), x.shape());
            x.backend().softmaxBackward(out, Views.contiguous(g), log, gx);
            return new Tensor[] {gx};
        });
    }

    /** Llama's RMSNorm over the last dim: {@code x * rsqrt(mean(x^2) + eps) * w}. w may be null. */
    public static Tensor rmsNorm(Tensor input, Tensor w, double eps) {
        Tensor x = Autocast.widen(input);
        Tensor xc = Views.contiguous(x);
        Tensor out = Ops.uninitialized(x, x.dtype(), x.shape());
        Tensor rstd = x.backend().zeros(statType(x), rows(x), Scope.current());
        x.backend().rmsNorm(xc, w, eps, out, rstd);
        return OpNode.record("rms_norm", out, new Tensor[] {xc, w}, g -> {
            Tensor gx = Ops.uninitialized(x, x.dtype(), x.shape()); // written whole; gw is accumulated into
            Tensor gw = w != null && w.requiresGrad() ? Ops.emptyLike(w, w.shape()) : null;
            x.backend().rmsNormBackward(xc, w, rstd, Views.contiguous(g), gx, gw);
            return new Tensor[] {gx, gw};
        });
    }

    /** {@code F.layer_norm} over the last dim. weight and bias may be null. */
    public static Tensor layerNorm(Tensor input, Tensor w, Tensor b, double eps) {
        Tensor x = Autocast.widen(input);
        Tensor xc = Views.contiguous(x);
        Tensor out = Ops.uninitialized(x, x.dtype(), x.shape());
        Tensor mean = x.backend().zeros(statType(x), rows(x), Scope.current());
        Tensor rstd = x.backend().zeros(statType(x), rows(x), Scope.current());
        x.backend().layerNorm(xc, w, b, eps, out, mean, rstd);
        return OpNode.record("layer_norm", out, new Tensor[] {xc, w, b}, g -> {
            Tensor gx = Ops.uninitialized(x, x.dtype(), x.shape()); // written whole; gw and gb are accumulated into
            Tensor gw = w != null && w.requiresGrad() ? Ops.emptyLike(w, w.shape()) : null;
            Tensor gb = b != null && b.requiresGrad() ? Ops.emptyLike(b, b.shape()) : null;
            x.backend().layerNormBackward(xc, w, mean, rstd, Views.contiguous(g), gx, gw, gb);
            return new Tensor[] {gx, gw, gb};
        });
    }

    /** Saved statistics are f32 (PyTorch's accumulation type) except for f64 inputs. */
    private static DType statType(Tensor x) {
        return x.dtype() == DType.F64 ? DType.F64 : DType.F32;
    }

    private static int[] rows(Tensor x) {
        int[] s = x.shape();
        return new int[] {(int) (x.numel() / Math.max(s[s.length - 1], 1))};
    }

    /**
     * Rotary position embedding, rotate-half convention: x [batch, heads, seq, headDim], positions
     * i64 [batch, seq], invFreq [headDim/2] (see {@link #ropeInvFreq}).
     */
    public static Tensor rope(Tensor x, Tensor positions, float[] invFreq) {
        Tensor out = Ops.uninitialized(x, x.dtype(), x.shape());
        x.backend().rope(x, positions, invFreq, false, out);
        return OpNode.record("rope", out, new Tensor[] {x}, g -> {
            Tensor gx = Ops.uninitialized(x, x.dtype(), x.shape());
            x.backend().rope(g, positions, invFreq, true, gx);
            return new Tensor[] {gx};
        });
    }

    /** HF's default inverse frequencies {@code 1 / theta^(2i/d)}, computed in f32 from an int64 arange as transformers does. */
    public static float[] ropeInvFreq(double theta, int headDim) {
        float[] f = new float[headDim / 2];
        for (int i = 0; i < f.length; i++) {
            f[i] = (float) (1.0 / Math.pow(theta, (float) (2 * i) / headDim));
        }
        return f;
    }

    /** {@code F.embedding(ids, weight)}: out has shape ids.shape + [hidden]. */
    public static Tensor embedding(Tensor weight, Tensor ids) {
        int[] is = ids.shape();
        int[] os = Arrays.copyOf(is, is.length + 1);
        os[is.length] = weight.size(1);
        Tensor out = weight.backend().zeros(weight.dtype(), os, Scope.current());
        Tensor idc = Views.contiguous(ids);
        weight.backend().embedding(weight, idc, out);
        return OpNode.record("embedding", out, new Tensor[] {weight}, g -> {
            Tensor gw = Ops.emptyLike(weight, weight.shape());
            weight.backend().embeddingBackward(Views.contiguous(g), idc, gw);
            return new Tensor[] {gw};
        });
    }

    /** {@code torch.index_select(src, dim, ids)}. */
    public static Tensor indexSelect(Tensor src, int dim, Tensor ids) {
        int d = Shape.dim(dim, src.rank());
        int[] os = src.shape();
        os[d] = (int) ids.numel();
        Tensor out = src.backend().zeros(src.dtype(), os, Scope.current());
        src.backend().indexSelect(src, d, ids, out);
        int[] shape = src.shape();
        return OpNode.record("index_select", out, new Tensor[] {src}, g -> {
            Tensor gs = Ops.emptyLike(src, shape);
            src.backend().indexAdd(Views.contiguous(g), d, ids, gs);
            return new Tensor[] {gs};
        });
    }

    /** How {@link #crossEntropy} reduces per-row losses, as PyTorch's {@code reduction}. */
    public enum Reduction { MEAN, SUM, NONE }

    /**
     * {@code F.cross_entropy(logits [rows, classes], targets [rows], ignore_index, reduction)}.
     * MEAN divides by the number of non-ignored targets (NaN when there are none, as in PyTorch).
     */
    public static Tensor crossEntropy(Tensor input, Tensor targets, long ignoreIndex, Reduction reduction) {
        Tensor logits = Autocast.widen(input);
        if (logits.rank() != 2 || targets.rank() != 1 || targets.size(0) != logits.size(0)) {
            throw new IllegalArgumentException("cross_entropy needs logits [rows, classes] and targets [rows], got "
                    + Shape.str(logits.shape()) + " and " + Shape.str(targets.shape()));
        }
        Tensor lc = Views.contiguous(logits);
        int rows = logits.size(0);
        Tensor perRow = logits.backend().zeros(statType(logits), new int[] {rows}, Scope.current());
        Tensor lse = logits.backend().zeros(statType(logits), new int[] {rows}, Scope.current());
        logits.backend().crossEntropy(lc, targets, ignoreIndex, perRow, lse);
        Tensor losses = OpNode.record("cross_entropy", perRow, new Tensor[] {lc}, g -> {
            Tensor gl = Ops.uninitialized(lc, lc.dtype(), lc.shape()); // ignored rows are written as zeros
            lc.backend().crossEntropyBackward(lc, targets, ignoreIndex, lse, Views.contiguous(g), gl);
            return new Tensor[] {gl};
        });
        return switch (reduction) {
            case NONE -> losses;
            case SUM -> Ops.sum(losses);
            case MEAN -> Ops.mulScalar(Ops.sum(losses), 1.0 / countTargets(targets, ignoreIndex));
        };
    }

    /** Rows per chunk {@link #linearCrossEntropy} takes for a vocabulary of {@code vocab} in {@code dtype}, for memory planning. */
    public static int linearCrossEntropyChunkRows(int vocab, ai.attune.api.tensor.DType dtype) {
        return LinearCrossEntropy.chunkRows(vocab, dtype);
    }

    /**
     * {@code cross_entropy(linear(hidden, weight), targets, ignore_index, reduction)} for hidden
     * [rows, d], a bias-free weight [vocab, d] and targets [rows], without materialising the
     * [rows, vocab] logits or their gradient: the rows go through in chunks of a few tens of MB of
     * logits (see {@link LinearCrossEntropy}), each chunk's gradients computed as it passes when
     * grad mode is on and hidden or weight requires grad. Reduction SUM or MEAN. Under
     * {@link Autocast}, or for weights other than f32 and f64, it is the unfused composition.
     */
    public static Tensor linearCrossEntropy(Tensor hidden, Tensor weight, Tensor targets, long ignoreIndex, Reduction reduction) {
        return linearCrossEntropy(hidden, weight, targets, ignoreIndex, reduction, LinearCrossEntropy.chunkRows(weight.size(0), weight.dtype()));
    }

    /** {@link #linearCrossEntropy(Tensor, Tensor, Tensor, long, Reduction)} with {@code chunkRows} rows per chunk. */
    public static Tensor linearCrossEntropy(Tensor hidden, Tensor weight, Tensor targets, long ignoreIndex, Reduction reduction, int chunkRows) {
        return LinearCrossEntropy.apply(hidden, weight, targets, ignoreIndex, reduction, chunkRows);
    }

    /** Number of targets not equal to {@code ignoreIndex}. */
    public static long countTargets(Tensor targets, long ignoreIndex) {
        long n = 0;
        for (long t : ai.attune.api.tensor.Tensors.toLongs(targets)) {
            if (t != ignoreIndex) {
                n++;
            }
        }
        return n;
    }

    /** Inverted dropout ({@code F.dropout}); the identity when not training or p == 0. */
    public static Tensor dropout(Tensor x, double p, long seed, boolean training) {
        if (!training || p == 0) {
            return x;
        }
        if (p < 0 || p > 1) {
            throw new IllegalArgumentException("dropout probability must be in [0, 1], got " + p);
        }
        Tensor out = Ops.uninitialized(x, x.dtype(), x.shape());
        Tensor mask = x.backend().zeros(DType.U8, x.shape(), Scope.current());
        x.backend().dropout(x, p, seed, out, mask);
        double scale = p == 1 ? 0.0 : 1.0 / (1.0 - p);
        return OpNode.record("dropout", out, new Tensor[] {x}, g -> new Tensor[] {Ops.mulScalar(Ops.mul(g, mask), scale)});
    }

    /**
     * Fused attention (see {@link ai.attune.api.tensor.Backend#attention}): q [b, hq, s, d], k and v
     * [b, hkv, t, d], keyMask [b, t] or null. Scale defaults to 1/sqrt(d) when NaN.
     */
    public static Tensor attention(Tensor query, Tensor key, Tensor value, Tensor keyMask, boolean causal, double scale) {
        Tensor q = Autocast.lower(query);
        Tensor k = Autocast.lower(key);
        Tensor v = Autocast.lower(value);
        double sc = Double.isNaN(scale) ? 1.0 / Math.sqrt(q.size(-1)) : scale;
        Tensor out = Ops.emptyLike(q, q.shape());
        int[] qs = q.shape();
        Tensor lse = q.backend().zeros(statType(q), new int[] {qs[0], qs[1], qs[2]}, Scope.current());
        q.backend().attention(q, k, v, keyMask, causal, sc, out, lse);
        return OpNode.record("attention", out, new Tensor[] {q, k, v}, g -> {
            Tensor gq = Ops.emptyLike(q, q.shape());
            Tensor gk = Ops.emptyLike(k, k.shape());
            Tensor gv = Ops.emptyLike(v, v.shape());
            q.backend().attentionBackward(q, k, v, keyMask, causal, sc, out, lse, g, gq, gk, gv);
            return new Tensor[] {gq, gk, gv};
        });
    }
}
