package ai.attune.kernels.torch;

import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Shape;
import ai.attune.api.tensor.Tensor;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.global.torch;

import static ai.attune.kernels.torch.Aten.as;
import static ai.attune.kernels.torch.Aten.scalar;
import static ai.attune.kernels.torch.Aten.view;

/**
 * Scaled-dot-product attention by composition of ATen ops: {@code S = scale * q k^T}, masked to
 * -inf, {@code lse = logsumexp(S)}, {@code P = exp(S - lse)}, {@code out = P v}; the backward
 * recomputes P from the saved lse. The contract is {@link ai.attune.api.tensor.Backend#attention}:
 * GQA, a [batch, t] key mask, causal masking aligned bottom-right, zeros (and lse = -inf) for a
 * query that sees no key.
 *
 * <p>GQA costs no copy of k and v: the g = hq/hkv query heads that share a kv head are stacked
 * into one [g*s, d] matrix ({@code q.reshape(b, hkv, g*s, d)}, since query head h reads kv head
 * h / g), so every product is one batched GEMM over [batch, hkv], and {@code P^T dO} sums the
 * group's contributions to dK and dV by itself.
 *
 * <p>The scores are materialised, a chunk of query rows at a time ([batch, hq, rows, t] in f32,
 * at most {@link #CHUNK_BYTES}), which is what lets each step be a few large GEMMs while memory
 * stays bounded for long sequences; dK and dV sum over the chunks. {@link FlashAttention}, which
 * never materialises them, is the path for f32; this one serves bf16, f16, f64 and mixed inputs.
 */
final class Attention {
    /** Bytes of one chunk's score tensor: 64 MiB keeps the backward's four [b, hq, rows, t] temporaries near 300 MB. */
    static final long CHUNK_BYTES = 64L << 20;

    private Attention() {}

    /** The sizes of one call: q [batch, hq, s, d], k and v [batch, hkv, t, d]. */
    record Dims(int batch, int hq, int hkv, int s, int t, int d) {
        /** Query heads per kv head. */
        int group() {
            return hq / hkv;
        }

        static Dims of(Tensor q, Tensor k, Tensor v, Tensor keyMask, Tensor out, Tensor lse) {
            if (q.rank() != 4 || k.rank() != 4) {
                throw new IllegalArgumentException("attention: q and k must have rank 4, got " + Shape.str(q.shape()) + " and " + Shape.str(k.shape()));
            }
            int[] qs = q.shape();
            int[] ks = k.shape();
            Dims dm = new Dims(qs[0], qs[1], ks[1], qs[2], ks[2], qs[3]);
            if (ks[0] != dm.batch || ks[3] != dm.d) {
                throw new IllegalArgumentException("attention: k " + Shape.str(ks) + " does not match q " + Shape.str(qs) + " in batch or head dim");
            }
            if (dm.hkv < 1 || dm.hq % dm.hkv != 0) {
                throw new IllegalArgumentException("attention: " + dm.hq + " query heads are not a multiple of " + dm.hkv + " kv heads");
            }
            Aten.checkShape(v, ks, "attention", "v");
            Aten.checkShape(out, qs, "attention", "out");
            Aten.checkShape(lse, new int[] {dm.batch, dm.hq, dm.s}, "attention", "lse");
            if (keyMask != null) {
                Aten.checkShape(keyMask, new int[] {dm.batch, dm.t}, "attention", "keyMask");
            }
            return dm;
        }
    }

    static void forward(Tensor q, Tensor k, Tensor v, Tensor keyMask, boolean causal, double scale, Tensor out, Tensor lse) {
        forward(q, k, v, keyMask, causal, scale, out, lse, CHUNK_BYTES);
    }

    /** {@link #forward} with the chunk budget given, so tests can cross chunk edges on small inputs. */
    static void forward(Tensor q, Tensor k, Tensor v, Tensor keyMask, boolean causal, double scale, Tensor out, Tensor lse, long chunkBytes) {
        Dims dm = Dims.of(q, k, v, keyMask, out, lse);
        DType c = computeType(q, k, v);
        DType a = accumulation(c);
        var qq = as(view(q), c); // [b, hq, s, d]
        var kk = as(view(k), c); // [b, hkv, t, d]
        var vv = as(view(v), c);
        var o = view(out);
        var l = view(lse); // [b, hq, s]
        int rows = chunkRows(dm, a, chunkBytes);
        for (int i0 = 0; i0 < dm.s; i0 += rows) {
            int n = Math.min(rows, dm.s - i0);
            var s = scores(grouped(qq.narrow(2, i0, n), dm, n), kk, a, keyMask, causal, scale, dm, i0, n); // [b, hkv, g*n, t]
            var chunkLse = torch.logsumexp(s, new long[] {-1}, true); // [b, hkv, g*n, 1]
            var p = s.sub(finite(chunkLse)).exp();
            var chunkOut = as(p, c).matmul(vv); // [b, hkv, g*n, d]
            o.narrow(2, i0, n).copy_(chunkOut.reshape(dm.batch, dm.hq, n, dm.d));
            l.narrow(2, i0, n).copy_(chunkLse.reshape(dm.batch, dm.hq, n));
        }
    }

    static void backward(Tensor q, Tensor k, Tensor v, Tensor keyMask, boolean causal, double scale, Tensor out, Tensor lse,
                         Tensor gradOut, Tensor gradQ, Tensor gradK, Tensor gradV) {
        backward(q, k, v, keyMask, causal, scale, out, lse, gradOut, gradQ, gradK, gradV, CHUNK_BYTES);
    }

    /** {@link #backward} with the chunk budget given. */
    static void backward(Tensor q, Tensor k, Tensor v, Tensor keyMask, boolean causal, double scale, Tensor out, Tensor lse,
                         Tensor gradOut, Tensor gradQ, Tensor gradK, Tensor gradV, long chunkBytes) {
        Dims dm = Dims.of(q, k, v, keyMask, out, lse);
        Aten.checkShape(gradOut, q.shape(), "attention backward", "gradOut");
        Aten.checkShape(gradQ, q.shape(), "attention backward", "gradQ");
        Aten.checkShape(gradK, k.shape(), "attention backward", "gradK");
        Aten.checkShape(gradV, k.shape(), "attention backward", "gradV");
        DType c = computeType(q, k, v);
        DType a = accumulation(c);
        var qq = as(view(q), c); // [b, hq, s, d]
        var kk = as(view(k), c); // [b, hkv, t, d]
        var vv = as(view(v), c);
        var o = as(view(out), a);
        var dO = as(view(gradOut), c);
        var l = as(view(lse), a); // [b, hq, s]
        var dQ = view(gradQ);
        org.bytedeco.pytorch.Tensor dK = null; // [b, hkv, t, d] in a, summed over chunks
        org.bytedeco.pytorch.Tensor dV = null;
        int rows = chunkRows(dm, a, chunkBytes);
        for (int i0 = 0; i0 < dm.s; i0 += rows) {
            int n = Math.min(rows, dm.s - i0);
            long gn = (long) dm.group() * n;
            var qg = grouped(qq.narrow(2, i0, n), dm, n); // [b, hkv, g*n, d]
            var dOg = grouped(dO.narrow(2, i0, n), dm, n);
            var s = scores(qg, kk, a, keyMask, causal, scale, dm, i0, n); // [b, hkv, g*n, t]
            var chunkLse = l.narrow(2, i0, n).reshape(dm.batch, dm.hkv, gn, 1);
            var p = s.sub(finite(chunkLse)).exp(); // P, 0 where masked and on rows that saw no key
            var v1 = as(as(p, c).transpose(-2, -1).matmul(dOg), a); // P^T dO: the group's rows sum into their kv head
            dV = dV == null ? v1 : dV.add(v1);
            var dp = as(dOg.matmul(vv.transpose(-2, -1)), a); // dP = dO v^T
            var rowDot = as(dOg, a).mul(grouped(o.narrow(2, i0, n), dm, n)).sum(new long[] {-1}, true, new ScalarTypeOptional()); // D = rowsum(dO * O)
            var ds = as(p.mul(dp.sub(rowDot)), c); // dS = P * (dP - D)
            dQ.narrow(2, i0, n).copy_(ds.matmul(kk).mul(scalar(scale)).reshape(dm.batch, dm.hq, n, dm.d));
            var k1 = as(ds.transpose(-2, -1).matmul(qg), a); // dS^T q
            dK = dK == null ? k1 : dK.add(k1);
        }
        if (dm.s == 0) {
            view(gradK).zero_();
            view(gradV).zero_();
            return;
        }
        view(gradK).copy_(dK.mul(scalar(scale)));
        view(gradV).copy_(dV);
    }

    /**
     * The dtype the GEMMs run in: the inputs' own when they agree (bf16 stays bf16, for oneDNN's
     * bf16 GEMM with f32 accumulation), f64 when any is f64, else f32.
     */
    static DType computeType(Tensor q, Tensor k, Tensor v) {
        return q.dtype() == k.dtype() && k.dtype() == v.dtype() && q.dtype().isFloatingPoint() ? q.dtype() : Aten.accumulation(q, k, v);
    }

    /** Scores, softmax statistics and sums: f64 for f64 GEMMs, else f32. */
    private static DType accumulation(DType compute) {
        return compute == DType.F64 ? DType.F64 : DType.F32;
    }

    /**
     * Query rows per chunk: the scores of one chunk, [b, hq, rows, t], stay under
     * {@code chunkBytes}, so memory grows with s*t only for one chunk's worth.
     */
    private static int chunkRows(Dims dm, DType acc, long chunkBytes) {
        long perRow = Math.max(1L, (long) dm.batch * dm.hq * dm.t * acc.byteSize());
        return (int) Math.max(1, Math.min(Math.max(dm.s, 1), chunkBytes / perRow));
    }

    /** Query rows i0..i0+n of t [b, hq, s, d] (narrowed to [b, hq, n, d]) as [b, hkv, g*n, d]: head h = kvh*g + j is row block j of kv head kvh. */
    private static org.bytedeco.pytorch.Tensor grouped(org.bytedeco.pytorch.Tensor rows, Dims dm, int n) {
        return rows.reshape(dm.batch, dm.hkv, (long) dm.group() * n, dm.d);
    }

    /** {@code scale * q k^T} for query rows [i0, i0+n), in acc, -inf where the key is not visible: [b, hkv, g*n, t]. */
    private static org.bytedeco.pytorch.Tensor scores(org.bytedeco.pytorch.Tensor qg, org.bytedeco.pytorch.Tensor k, DType acc,
                                                      Tensor keyMask, boolean causal, double scale, Dims dm, int i0, int n) {
        var s = as(qg.matmul(k.transpose(-2, -1)), acc).mul(scalar(scale));
        var visible = visible(keyMask, causal, dm, i0, n);
        if (visible != null) {
            s.view(dm.batch, dm.hkv, dm.group(), n, dm.t).masked_fill_(visible.logical_not().unsqueeze(1), scalar(Double.NEGATIVE_INFINITY));
        }
        return s;
    }

    /**
     * Which keys queries [i0, i0+n) may see, bool [b|1, 1, n, t], or null when they see all: the
     * causal rule aligned bottom-right (query i sees key j when j <= i + t - s) and the key mask.
     */
    static org.bytedeco.pytorch.Tensor visible(Tensor keyMask, boolean causal, Dims dm, int i0, int n) {
        org.bytedeco.pytorch.Tensor m = null;
        if (causal) {
            m = torch.ones(new long[] {n, dm.t}, Aten.options(DType.BOOL)).tril((long) dm.t - dm.s + i0).view(1, 1, n, dm.t);
        }
        if (keyMask != null) {
            var keys = view(keyMask).ne(scalar(0)).view(dm.batch, 1, 1, dm.t);
            m = m == null ? keys : m.logical_and(keys);
        }
        return m;
    }

    /** lse with -inf (a row that saw no key) replaced by 0, so that exp(S - lse) is 0 there rather than NaN. */
    private static org.bytedeco.pytorch.Tensor finite(org.bytedeco.pytorch.Tensor lse) {
        return lse.masked_fill(lse.isinf(), scalar(0));
    }
}
