package ai.attune.kernels.jvm;

import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Shape;
import ai.attune.api.tensor.Tensor;
import ai.attune.kernels.jvm.gemm.ElementType;
import ai.attune.kernels.jvm.gemm.Gemm;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * Batched matmul with broadcasting on top of the packed GEMM. Operands whose last two dims are
 * row- or column-major go to the GEMM as they are (a column-major operand is a transposed
 * row-major one); anything else is copied contiguous first. f64 runs a double-precision loop: it is
 * the dtype of gradient checks, where exactness matters more than speed.
 */
final class Matmul {
    private Matmul() {}

    static void matmul(JvmBackend be, Gemm gemm, Tensor a, boolean transA, Tensor b, boolean transB, Tensor out) {
        matmul(be, gemm, null, 1, a, transA, b, transB, out);
    }

    /**
     * With a pool, products of a few f32 rows take the unpacked {@link Gemv} path (decoding), and
     * products of a few f32 columns the {@link SkinnyGemm} path (LoRA's rank-r products).
     */
    static void matmul(JvmBackend be, Gemm gemm, java.util.concurrent.ExecutorService pool, int threads,
                       Tensor a, boolean transA, Tensor b, boolean transB, Tensor out) {
        matmul(be, gemm, pool, threads, null, a, transA, b, transB, out);
    }

    /**
     * {@code out = bias + op(a) @ op(b)} for 2-D a and b and a bias [n] (torch.addmm): where the
     * product takes the packed GEMM into an f32 out, the bias is added in its write-back; anywhere
     * else by an add after the product. The bits are the same either way.
     */
    static void addmm(JvmBackend be, Gemm gemm, java.util.concurrent.ExecutorService pool, int threads,
                      Tensor bias, Tensor a, boolean transA, Tensor b, boolean transB, Tensor out) {
        int n = out.size(-1);
        if (a.rank() != 2 || b.rank() != 2 || bias.rank() != 1 || bias.size(0) != n) {
            throw new IllegalArgumentException("addmm: bias [n] with a, b and out 2-D, got bias " + Shape.str(bias.shape())
                    + ", a " + Shape.str(a.shape()) + ", b " + Shape.str(b.shape()) + ", out " + Shape.str(out.shape()));
        }
        boolean fusable = bias.dtype() == DType.F32 && bias.isContiguous() && out.dtype() == DType.F32;
        if (!matmul(be, gemm, pool, threads, fusable ? bias : null, a, transA, b, transB, out)) {
            be.binary(ai.attune.api.tensor.BinaryOp.ADD, out, bias, out);
        }
    }

    /** The product, with an f32 {@code bias} [n] added in the GEMM's write-back where it runs; whether it was. */
    private static boolean matmul(JvmBackend be, Gemm gemm, java.util.concurrent.ExecutorService pool, int threads,
                                  Tensor bias, Tensor a, boolean transA, Tensor b, boolean transB, Tensor out) {
        boolean biased = false;
        int[] as = a.shape();
        int[] bs = b.shape();
        int ra = as.length;
        int rb = bs.length;
        int m = transA ? as[ra - 1] : as[ra - 2];
        int k = transA ? as[ra - 2] : as[ra - 1];
        int n = transB ? bs[rb - 2] : bs[rb - 1];
        int[] expected = Shape.matmul(as, transA, bs, transB);
        int[] batch = Arrays.copyOf(expected, expected.length - 2);
        if (!Arrays.equals(out.shape(), expected) || !out.isContiguous()) {
            throw new IllegalArgumentException("matmul: out must be contiguous " + Shape.str(expected) + ", got " + Shape.str(out.shape()));
        }
        try (Scope tmp = Scope.detached("matmul")) {
            Tensor a2 = gemmable(be, a, tmp);
            Tensor b2 = gemmable(be, b, tmp);
            boolean f64 = out.dtype() == DType.F64 || a.dtype() == DType.F64 || b.dtype() == DType.F64;
            Tensor c = out.dtype() == DType.F32 || f64 ? out : be.zeros(DType.F32, expected, tmp);
            long[] aBatch = batchStrides(a2, batch);
            long[] bBatch = batchStrides(b2, batch);
            long batches = Shape.numel(batch);
            int[] idx = new int[batch.length];
            for (long bi = 0; bi < batches; bi++) {
                long offA = a2.offset();
                long offB = b2.offset();
                for (int d = 0; d < idx.length; d++) {
                    offA += idx[d] * aBatch[d];
                    offB += idx[d] * bBatch[d];
                }
                long offC = c.offset() + bi * (long) m * n;
                Layout la = f64 ? null : layout(a2, transA);
                Layout lb = f64 ? null : layout(b2, transB);
                if (f64) {
                    gemmF64(transA, transB, m, n, k, a2, offA, b2, offB, c, offC);
                } else if (pool != null && !scalarGemm(gemm) && m <= Gemv.MAX_ROWS && !la.trans
                        && a2.dtype() == DType.F32 && b2.dtype() == DType.F32) {
                    Gemv.gemv(pool, threads, lb.trans, m, n, k, Elementwise.seg(a2), offA, la.ld, Elementwise.seg(b2), offB, lb.ld,
                            Elementwise.seg(c), offC, n);
                } else if (pool != null && !scalarGemm(gemm) && SkinnyGemm.applies(m, n, k)
                        && a2.dtype() == DType.F32 && b2.dtype() == DType.F32) {
                    SkinnyGemm.gemm(pool, threads, la.trans, lb.trans, m, n, k, Elementwise.seg(a2), offA, la.ld, Elementwise.seg(b2), offB, lb.ld,
                            Elementwise.seg(c), offC, n);
                } else if (bias != null && c == out && batches == 1) {
                    gemm.gemm(la.trans, lb.trans, m, n, k, 1f,
                            Elementwise.seg(a2), offA, la.ld, type(a2.dtype()),
                            Elementwise.seg(b2), offB, lb.ld, type(b2.dtype()),
                            0f, Elementwise.seg(c), offC, n, Elementwise.seg(bias), bias.offset());
                    biased = true;
                } else {
                    gemm.gemm(la.trans, lb.trans, m, n, k, 1f,
                            Elementwise.seg(a2), offA, la.ld, type(a2.dtype()),
                            Elementwise.seg(b2), offB, lb.ld, type(b2.dtype()),
                            0f, Elementwise.seg(c), offC, n);
                }
                for (int d = idx.length - 1; d >= 0; d--) {
                    if (++idx[d] < batch[d]) {
                        break;
                    }
                    idx[d] = 0;
                }
            }
            if (c != out) {
                be.copy(c, out);
            }
        }
        return biased;
    }

    record Layout(boolean trans, int ld) {}

    private static boolean scalarGemm(Gemm gemm) {
        return gemm.isScalar();
    }

    /** How a gemmable operand is handed to the GEMM: row-major with a leading dim, or transposed. */
    static Layout layout(Tensor t, boolean trans) {
        long s1 = t.stride(-2);
        long s0 = t.stride(-1);
        if (s0 == 1 || t.size(-1) == 1) {
            return new Layout(trans, (int) Math.max(s1, t.size(-1)));
        }
        return new Layout(!trans, (int) Math.max(s0, t.size(-2)));
    }

    /** The operand itself when its matrices are row- or column-major and its dtype is one the GEMM reads; else a contiguous f32 copy. */
    static Tensor gemmable(JvmBackend be, Tensor t, Scope tmp) {
        long s1 = t.stride(-2);
        long s0 = t.stride(-1);
        boolean rowMajor = s0 == 1 || t.size(-1) == 1;
        boolean colMajor = s1 == 1 || t.size(-2) == 1;
        boolean typed = t.dtype() == DType.F32 || t.dtype() == DType.BF16 || t.dtype() == DType.F16 || t.dtype() == DType.F64;
        if ((rowMajor || colMajor) && typed) {
            return t;
        }
        Tensor c = be.zeros(t.dtype().isFloatingPoint() && typed ? t.dtype() : DType.F32, t.shape(), tmp);
        be.copy(t, c);
        return c;
    }

    private static long[] batchStrides(Tensor t, int[] batch) {
        int[] s = t.shape();
        long[] st = t.strides();
        int lead = batch.length - (s.length - 2);
        long[] out = new long[batch.length];
        for (int i = 0; i < s.length - 2; i++) {
            out[i + lead] = s[i] == 1 ? 0 : st[i];
        }
        return out;
    }

    static ElementType type(DType t) {
        return switch (t) {
            case F32 -> ElementType.F32;
            case BF16 -> ElementType.BF16;
            case F16 -> ElementType.F16;
            default -> throw new IllegalArgumentException("matmul of " + t);
        };
    }

    private static void gemmF64(boolean transA, boolean transB, int m, int n, int k, Tensor a, long offA, Tensor b, long offB, Tensor c, long offC) {
        MemorySegment sa = Elementwise.seg(a);
        MemorySegment sb = Elementwise.seg(b);
        MemorySegment sc = Elementwise.seg(c);
        long ai = a.stride(-2);
        long aj = a.stride(-1);
        long bi = b.stride(-2);
        long bj = b.stride(-1);
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double acc = 0;
                for (int p = 0; p < k; p++) {
                    long ia = transA ? offA + p * ai + i * aj : offA + i * ai + p * aj;
                    long ib = transB ? offB + j * bi + p * bj : offB + p * bi + j * bj;
                    acc += Elements.get(sa, a.dtype(), ia) * Elements.get(sb, b.dtype(), ib);
                }
                Elements.set(sc, c.dtype(), offC + (long) i * n + j, acc);
            }
        }
    }
}
