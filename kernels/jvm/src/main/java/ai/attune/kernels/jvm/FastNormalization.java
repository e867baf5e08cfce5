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
 * Vector API RMSNorm and LayerNorm and their backwards on contiguous f32 tensors, parallel over
 * blocks of {@link #ROWS} rows. A row's sums run over its lanes and then {@link VectorMath#sum} in
 * a fixed order; the weight and bias gradients, sums over rows, are summed per block and the
 * blocks' partials added in block order, so the result is the same for any thread count. Each
 * method returns false for any other case, which then takes {@link Normalization}, the reference
 * these are tested against.
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
        addBlockSums(gw, partials);
        return true;
    }

    // x, out: [rows, n]; w, bias: [n]; mean, rstd: [rows]
    static boolean layerNorm(Tensor x, Tensor w, Tensor bias, double eps, Tensor out, Tensor mean, Tensor rstd,
                             ExecutorService pool, int workers) {
        if (!flatF32(x) || !flatF32(out) || !flatF32(mean) || !flatF32(rstd) || (w != null && !flatF32(w)) || (bias != null && !flatF32(bias))) {
            return false;
        }
        int n = x.size(-1);
        int rows = n == 0 ? 0 : (int) (x.numel() / n);
        if (n == 0 || out.numel() != x.numel() || mean.numel() != rows || rstd.numel() != rows
                || (w != null && w.numel() != n) || (bias != null && bias.numel() != n)) {
            return false;
        }
        MemorySegment sx = Elementwise.seg(x), so = Elementwise.seg(out), sm = Elementwise.seg(mean), sr = Elementwise.seg(rstd);
        MemorySegment sw = w == null ? null : Elementwise.seg(w), sb = bias == null ? null : Elementwise.seg(bias);
        long xo = x.offset() * 4, oo = out.offset() * 4, mo = mean.offset() * 4, ro = rstd.offset() * 4;
        long wo = w == null ? 0 : w.offset() * 4, bo = bias == null ? 0 : bias.offset() * 4;
        int bound = F.loopBound(n);
        Parallel.forEach(pool, workers, (rows + ROWS - 1) / ROWS, () -> null, s -> {}, (blk, s) -> {
            for (int i = blk * ROWS; i < Math.min(rows, (blk + 1) * ROWS); i++) {
                long b = xo + (long) i * n * 4, ob = oo + (long) i * n * 4;
                float first = sx.get(Elements.F32, b);
                double mu = first + RowMath.sum(sx, b, n, first) / n;
                double rs = 1.0 / Math.sqrt(RowMath.sumSquaredDeviations(sx, b, n, mu) / n + eps);
                sm.set(Elements.F32, mo + i * 4L, (float) mu);
                sr.set(Elements.F32, ro + i * 4L, (float) rs);
                // x - mu as (x - hi) - lo, as the variance took it
                float hi = (float) mu, lo = (float) (mu - hi), rsf = (float) rs;
                int j = 0;
                for (; j < bound; j += F.length()) {
                    FloatVector y = FloatVector.fromMemorySegment(F, sx, b + j * 4L, LE).sub(hi).sub(lo).mul(rsf);
                    if (sw != null) {
                        y = y.mul(FloatVector.fromMemorySegment(F, sw, wo + j * 4L, LE));
                    }
                    if (sb != null) {
                        y = y.add(FloatVector.fromMemorySegment(F, sb, bo + j * 4L, LE));
                    }
                    y.intoMemorySegment(so, ob + j * 4L, LE);
                }
                for (; j < n; j++) {
                    float y = (sx.get(Elements.F32, b + j * 4L) - hi - lo) * rsf;
                    if (sw != null) {
                        y *= sw.get(Elements.F32, wo + j * 4L);
                    }
                    if (sb != null) {
                        y += sb.get(Elements.F32, bo + j * 4L);
                    }
                    so.set(Elements.F32, ob + j * 4L, y);
                }
            }
        });
        return true;
    }

    // x, gy, gx: [rows, n]; w, gw, gb: [n]; mean, rstd: [rows]
    static boolean layerNormBackward(Tensor x, Tensor w, Tensor mean, Tensor rstd, Tensor gy, Tensor gx, Tensor gw, Tensor gb,
                                     ExecutorService pool, int workers) {
        if (!flatF32(x) || !flatF32(mean) || !flatF32(rstd) || !flatF32(gy) || !flatF32(gx) || (w != null && !flatF32(w))
                || (gw != null && !flatF32(gw)) || (gb != null && !flatF32(gb))) {
            return false;
        }
        int n = x.size(-1);
        int rows = n == 0 ? 0 : (int) (x.numel() / n);
        if (n == 0 || gy.numel() != x.numel() || gx.numel() != x.numel() || mean.numel() != rows || rstd.numel() != rows
                || (w != null && w.numel() != n) || (gw != null && gw.numel() != n) || (gb != null && gb.numel() != n)) {
            return false;
        }
        MemorySegment sx = Elementwise.seg(x), sg = Elementwise.seg(gy), sgx = Elementwise.seg(gx);
        MemorySegment sm = Elementwise.seg(mean), sr = Elementwise.seg(rstd), sw = w == null ? null : Elementwise.seg(w);
        long xo = x.offset() * 4, go = gy.offset() * 4, gxo = gx.offset() * 4, mo = mean.offset() * 4, ro = rstd.offset() * 4;
        long wo = w == null ? 0 : w.offset() * 4;
        int blocks = (rows + ROWS - 1) / ROWS;
        // per block: sums over its rows of gy * xhat (weight) and of gy (bias)
        float[][] wParts = gw == null ? null : new float[blocks][n];
        float[][] bParts = gb == null ? null : new float[blocks][n];
        int bound = F.loopBound(n);
        Parallel.forEach(pool, workers, blocks, () -> null, s -> {}, (blk, s) -> {
            float[] pw = wParts == null ? null : wParts[blk];
            float[] pb = bParts == null ? null : bParts[blk];
            for (int i = blk * ROWS; i < Math.min(rows, (blk + 1) * ROWS); i++) {
                long b = xo + (long) i * n * 4, bg = go + (long) i * n * 4, bx = gxo + (long) i * n * 4;
                float mu = sm.get(Elements.F32, mo + i * 4L), rs = sr.get(Elements.F32, ro + i * 4L);
                // sums of gh = gy * w and of gh * xhat, xhat = (x - mu) * rs, in RowMath's order
                double sumG = 0, sumGX = 0;
                int j = 0;
                while (j < bound) {
                    int end = Math.min(bound, j + RowMath.SPAN);
                    FloatVector accG = FloatVector.zero(F), accGX = FloatVector.zero(F);
                    for (; j < end; j += F.length()) {
                        FloatVector xhat = FloatVector.fromMemorySegment(F, sx, b + j * 4L, LE).sub(mu).mul(rs);
                        FloatVector g = FloatVector.fromMemorySegment(F, sg, bg + j * 4L, LE);
                        if (pw != null) {
                            g.mul(xhat).add(FloatVector.fromArray(F, pw, j)).intoArray(pw, j);
                        }
                        if (pb != null) {
                            g.add(FloatVector.fromArray(F, pb, j)).intoArray(pb, j);
                        }
                        FloatVector gh = sw == null ? g : g.mul(FloatVector.fromMemorySegment(F, sw, wo + j * 4L, LE));
                        accG = accG.add(gh);
                        accGX = gh.fma(xhat, accGX);
                    }
                    sumG += VectorMath.sum(accG);
                    sumGX += VectorMath.sum(accGX);
                }
                for (; j < n; j++) {
                    float xhat = (sx.get(Elements.F32, b + j * 4L) - mu) * rs;
                    float g = sg.get(Elements.F32, bg + j * 4L);
                    if (pw != null) {
                        pw[j] += g * xhat;
                    }
                    if (pb != null) {
                        pb[j] += g;
                    }
                    float gh = sw == null ? g : g * sw.get(Elements.F32, wo + j * 4L);
                    sumG += gh;
                    sumGX += (double) gh * xhat;
                }
                // gx = rs * (gh - mean(gh) - xhat * mean(gh * xhat))
                float meanG = (float) (sumG / n), meanGX = (float) (sumGX / n);
                j = 0;
                for (; j < bound; j += F.length()) {
                    FloatVector xhat = FloatVector.fromMemorySegment(F, sx, b + j * 4L, LE).sub(mu).mul(rs);
                    FloatVector gh = FloatVector.fromMemorySegment(F, sg, bg + j * 4L, LE);
                    if (sw != null) {
                        gh = gh.mul(FloatVector.fromMemorySegment(F, sw, wo + j * 4L, LE));
                    }
                    gh.sub(meanG).sub(xhat.mul(meanGX)).mul(rs).intoMemorySegment(sgx, bx + j * 4L, LE);
                }
                for (; j < n; j++) {
                    float xhat = (sx.get(Elements.F32, b + j * 4L) - mu) * rs;
                    float gh = sg.get(Elements.F32, bg + j * 4L);
                    if (sw != null) {
                        gh *= sw.get(Elements.F32, wo + j * 4L);
                    }
                    sgx.set(Elements.F32, bx + j * 4L, (gh - meanG - xhat * meanGX) * rs);
                }
            }
        });
        addBlockSums(gw, wParts);
        addBlockSums(gb, bParts);
        return true;
    }

    /** t += the sum of the blocks' partials, added in block order in double. */
    private static void addBlockSums(Tensor t, float[][] partials) {
        if (t == null) {
            return;
        }
        MemorySegment s = Elementwise.seg(t);
        long o = t.offset() * 4;
        for (int j = 0; j < t.numel(); j++) {
            double total = 0;
            for (float[] p : partials) {
                total += p[j];
            }
            s.set(Elements.F32, o + j * 4L, (float) (s.get(Elements.F32, o + j * 4L) + total));
        }
    }
}
