package ai.attune.kernels.jvm;

import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Tensor;
import ai.attune.kernels.jvm.parallel.Parallel;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.concurrent.ExecutorService;

/**
 * Vector API RMSNorm and its backward on contiguous f32 tensors, parallel over blocks of
 * {@link #ROWS} rows. A row's sums run over its lanes and then {@link VectorMath#sum} in a fixed
 * order; the weight gradient, a sum over rows, is summed per block and the blocks' partials added
 * in block order, so the result is the same for any thread count. Each method returns false for
 * any other case, which then takes {@link Normalization}, the reference these are tested against.
 */
final class FastNormalization {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    /** Rows per parallel unit; fixed, so the weight gradient's partial sums do not depend on the pool. */
    static final int ROWS = 16;

    private FastNormalization() {}

    private static boolean flatF32(Tensor t) {
        return t != null && t.dtype() == DType.F32 && t.isContiguous();
    }

    // x, out: [rows, n]; w: [n]; rstd: [rows]
    static boolean rmsNorm(Tensor x, Tensor w, double eps, Tensor out, Tensor rstd, ExecutorService pool, int workers) {
        if (!flatF32(x) || !flatF32(out) || !flatF32(rstd) || (w != null && !flatF32(w))) {
            return false;
        }
        int n = x.size(-1);
        int rows = n == 0 ? 0 : (int) (x.numel() / n);
        if (n == 0 || out.numel() != x.numel() || rstd.numel() != rows || (w != null && w.numel() != n)) {
            return false;
        }
        MemorySegment sx = Elementwise.seg(x), so = Elementwise.seg(out), sr = Elementwise.seg(rstd);
        MemorySegment sw = w == null ? null : Elementwise.seg(w);
        long xo = x.offset() * 4, oo = out.offset() * 4, ro = rstd.offset() * 4, wo = w == null ? 0 : w.offset() * 4;
        int bound = n / F.length() * F.length();
        Parallel.forEach(pool, workers, (rows + ROWS - 1) / ROWS, () -> null, s -> {}, (blk, s) -> {
            for (int i = blk * ROWS; i < Math.min(rows, (blk + 1) * ROWS); i++) {
                long b = xo + (long) i * n * 4, ob = oo + (long) i * n * 4;
                FloatVector acc = FloatVector.zero(F);
                int j = 0;
                for (; j < bound; j += F.length()) {
                    FloatVector v = FloatVector.fromMemorySegment(F, sx, b + j * 4L, LE);
                    acc = v.fma(v, acc);
                }
                double ss = VectorMath.sum(acc);
                for (; j < n; j++) {
                    double v = sx.get(Elements.F32, b + j * 4L);
                    ss += v * v;
                }
                // rsqrt(mean(x^2) + eps) rounded to f32 before use, as HF and the reference do.
                float rs = (float) (1.0 / Math.sqrt(ss / n + eps));
                sr.set(Elements.F32, ro + i * 4L, rs);
                j = 0;
                for (; j < bound; j += F.length()) {
                    FloatVector y = FloatVector.fromMemorySegment(F, sx, b + j * 4L, LE).mul(rs);
                    if (sw != null) {
                        y = FloatVector.fromMemorySegment(F, sw, wo + j * 4L, LE).mul(y);
                    }
                    y.intoMemorySegment(so, ob + j * 4L, LE);
                }
                for (; j < n; j++) {
                    float y = sx.get(Elements.F32, b + j * 4L) * rs;
                    so.set(Elements.F32, ob + j * 4L, sw == null ? y : sw.get(Elements.F32, wo + j * 4L) * y);
                }
            }
        });
        return true;
    }

    // x, gy, gx: [rows, n]; w, gw: [n]; rstd: [rows]
    static boolean rmsNormBackward(Tensor x, Tensor w, Tensor rstd, Tensor gy, Tensor gx, Tensor gw, ExecutorService pool, int workers) {
        if (!flatF32(x) || !flatF32(rstd) || !flatF32(gy) || !flatF32(gx) || (w != null && !flatF32(w)) || (gw != null && !flatF32(gw))) {
            return false;
        }
        int n = x.size(-1);
        int rows = n == 0 ? 0 : (int) (x.numel() / n);
        if (n == 0 || gy.numel() != x.numel() || gx.numel() != x.numel() || rstd.numel() != rows
                || (w != null && w.numel() != n) || (gw != null && gw.numel() != n)) {
            return false;
        }
        MemorySegment sx = Elementwise.seg(x), sg = Elementwise.seg(gy), sgx = Elementwise.seg(gx), sr = Elementwise.seg(rstd);
        MemorySegment sw = w == null ? null : Elementwise.seg(w);
        long xo = x.offset() * 4, go = gy.offset() * 4, gxo = gx.offset() * 4, ro = rstd.offset() * 4, wo = w == null ? 0 : w.offset() * 4;
        int blocks = (rows + ROWS - 1) / ROWS;
        float[][] partials = gw == null ? null : new float[blocks][n]; // per block: sum over its rows of gy * xhat
        int bound = n / F.length() * F.length();
        Parallel.forEach(pool, workers, blocks, () -> null, s -> {}, (blk, s) -> {
            float[] part = partials == null ? null : partials[blk];
            for (int i = blk * ROWS; i < Math.min(rows, (blk + 1) * ROWS); i++) {
                long b = xo + (long) i * n * 4, bg = go + (long) i * n * 4, bx = gxo + (long) i * n * 4;
                float rs = sr.get(Elements.F32, ro + i * 4L);
                // dot = sum_j gy * w * x; xhat = x * rs is applied once to the sum
                FloatVector acc = FloatVector.zero(F);
                int j = 0;
                for (; j < bound; j += F.length()) {
                    FloatVector xv = FloatVector.fromMemorySegment(F, sx, b + j * 4L, LE);
                    FloatVector g = FloatVector.fromMemorySegment(F, sg, bg + j * 4L, LE);
                    if (part != null) {
                        FloatVector p = FloatVector.fromArray(F, part, j);
                        g.mul(xv.mul(rs)).add(p).intoArray(part, j);
                    }
                    if (sw != null) {
                        g = g.mul(FloatVector.fromMemorySegment(F, sw, wo + j * 4L, LE));
                    }
                    acc = g.fma(xv, acc);
                }
                float dotSum = VectorMath.sum(acc);
                for (; j < n; j++) {
                    float xv = sx.get(Elements.F32, b + j * 4L);
                    float g = sg.get(Elements.F32, bg + j * 4L);
                    if (part != null) {
                        part[j] += g * (xv * rs);
                    }
                    if (sw != null) {
                        g *= sw.get(Elements.F32, wo + j * 4L);
                    }
                    dotSum = Math.fma(g, xv, dotSum);
                }
                // gx = rs * (gy * w - xhat * mean(gy * w * xhat)) = rs * gy * w - x * (rs^3 * dotSum / n)
                float k = rs * rs * rs * dotSum / n;
                j = 0;
                for (; j < bound; j += F.length()) {
                    FloatVector xv = FloatVector.fromMemorySegment(F, sx, b + j * 4L, LE);
                    FloatVector g = FloatVector.fromMemorySegment(F, sg, bg + j * 4L, LE);
                    if (sw != null) {
                        g = g.mul(FloatVector.fromMemorySegment(F, sw, wo + j * 4L, LE));
                    }
                    g.mul(rs).sub(xv.mul(k)).intoMemorySegment(sgx, bx + j * 4L, LE);
                }
                for (; j < n; j++) {
                    float xv = sx.get(Elements.F32, b + j * 4L);
                    float g = sg.get(Elements.F32, bg + j * 4L);
                    if (sw != null) {
                        g *= sw.get(Elements.F32, wo + j * 4L);
                    }
                    sgx.set(Elements.F32, bx + j * 4L, g * rs - xv * k);
                }
            }
        });
        if (gw != null) {
            MemorySegment s = Elementwise.seg(gw);
            long o = gw.offset() * 4;
            for (int j = 0; j < n; j++) {
                double total = 0;
                for (float[] p : partials) {
                    total += p[j];
                }
                s.set(Elements.F32, o + j * 4L, (float) (s.get(Elements.F32, o + j * 4L) + total));
            }
        }
        return true;
    }
}
