package ai.attune.kernels.jvm;

import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Tensor;

import java.lang.foreign.MemorySegment;

/**
 * Softmax, RMSNorm and LayerNorm over the last dim, with their backwards. Row statistics are
 * computed in double and saved in the dtype the caller gave them (f32, or f64 for f64 inputs).
 */
final class Normalization {
    private Normalization() {}

    private record Rows(int rows, int n) {
        static Rows of(Tensor x) {
            int n = x.size(-1);
            return new Rows(n == 0 ? 0 : (int) (x.numel() / n), n);
        }
    }

    static void softmax(Tensor x, boolean log, Tensor out) {
        Elementwise.checkOut(out, x.shape(), "softmax");
        Rows r = Rows.of(x);
        MemorySegment sx = Elementwise.seg(x), so = Elementwise.seg(out);
        Tensor xc = requireContiguous(x);
        double[] row = new double[r.n];
        for (int i = 0; i < r.rows; i++) {
            long base = xc.offset() + (long) i * r.n;
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < r.n; j++) {
                row[j] = Elements.get(sx, x.dtype(), base + j);
                max = Math.max(max, row[j]);
            }
            double sum = 0;
            for (int j = 0; j < r.n; j++) {
                sum += Math.exp(row[j] - max);
            }
            double logSum = Math.log(sum);
            long ob = out.offset() + (long) i * r.n;
            for (int j = 0; j < r.n; j++) {
                double v = log ? row[j] - max - logSum : Math.exp(row[j] - max) / sum;
                Elements.set(so, out.dtype(), ob + j, v);
            }
        }
    }

    static void softmaxBackward(Tensor y, Tensor gy, boolean log, Tensor gx) {
        Rows r = Rows.of(y);
        MemorySegment sy = Elementwise.seg(requireContiguous(y)), sg = Elementwise.seg(requireContiguous(gy)), sx = Elementwise.seg(gx);
        for (int i = 0; i < r.rows; i++) {
            long by = y.offset() + (long) i * r.n;
            long bg = gy.offset() + (long) i * r.n;
            long bx = gx.offset() + (long) i * r.n;
            double dot = 0;
            for (int j = 0; j < r.n; j++) {
                double g = Elements.get(sg, gy.dtype(), bg + j);
                dot += log ? g : g * Elements.get(sy, y.dtype(), by + j);
            }
            for (int j = 0; j < r.n; j++) {
                double yv = Elements.get(sy, y.dtype(), by + j);
                double g = Elements.get(sg, gy.dtype(), bg + j);
                double v = log ? g - Math.exp(yv) * dot : yv * (g - dot);
                Elements.set(sx, gx.dtype(), bx + j, v);
            }
        }
    }

    static void rmsNorm(Tensor x, Tensor w, double eps, Tensor out, Tensor rstd) {
        Elementwise.checkOut(out, x.shape(), "rms_norm");
        Rows r = Rows.of(requireContiguous(x));
        MemorySegment sx = Elementwise.seg(x), so = Elementwise.seg(out), sr = Elementwise.seg(rstd);
        MemorySegment sw = w == null ? null : Elementwise.seg(requireContiguous(w));
        for (int i = 0; i < r.rows; i++) {
            long b = x.offset() + (long) i * r.n;
            double ss = 0;
            for (int j = 0; j < r.n; j++) {
                double v = Elements.get(sx, x.dtype(), b + j);
                ss += v * v;
            }
            // HF computes the statistic in f32: rsqrt(mean(x^2) + eps), rounded to f32 before use
            // (kept in f64 for f64 inputs, whose gradient checks need every digit).
            double rs = 1.0 / Math.sqrt(ss / r.n + eps);
            if (x.dtype() != DType.F64) {
                rs = (float) rs;
            }
            Elements.set(sr, rstd.dtype(), rstd.offset() + i, rs);
            long ob = out.offset() + (long) i * r.n;
            for (int j = 0; j < r.n; j++) {
                double xhat = Elements.get(sx, x.dtype(), b + j) * rs;
                if (x.dtype() != DType.F64) {
                    xhat = (float) xhat;
                }
                double wj = sw == null ? 1.0 : Elements.get(sw, w.dtype(), w.offset() + j);
                Elements.set(so, out.dtype(), ob + j, wj * xhat);
            }
        }
    }

    static void rmsNormBackward(Tensor x, Tensor w, Tensor rstd, Tensor gy, Tensor gx, Tensor gw) {
        Rows r = Rows.of(requireContiguous(x));
        MemorySegment sx = Elementwise.seg(x), sg = Elementwise.seg(requireContiguous(gy)), sgx = Elementwise.seg(gx), sr = Elementwise.seg(rstd);
        MemorySegment sw = w == null ? null : Elementwise.seg(w);
        double[] gwAcc = gw == null ? null : new double[r.n];
        for (int i = 0; i < r.rows; i++) {
            long b = x.offset() + (long) i * r.n;
            long bg = gy.offset() + (long) i * r.n;
            double rs = Elements.get(sr, rstd.dtype(), rstd.offset() + i);
            double dot = 0;
            for (int j = 0; j < r.n; j++) {
                double xhat = Elements.get(sx, x.dtype(), b + j) * rs;
                double g = Elements.get(sg, gy.dtype(), bg + j);
                double wj = sw == null ? 1.0 : Elements.get(sw, w.dtype(), w.offset() + j);
                dot += g * wj * xhat;
                if (gwAcc != null) {
                    gwAcc[j] += g * xhat;
                }
            }
            dot /= r.n;
            long bx = gx.offset() + (long) i * r.n;
            for (int j = 0; j < r.n; j++) {
                double xhat = Elements.get(sx, x.dtype(), b + j) * rs;
                double g = Elements.get(sg, gy.dtype(), bg + j);
                double wj = sw == null ? 1.0 : Elements.get(sw, w.dtype(), w.offset() + j);
                Elements.set(sgx, gx.dtype(), bx + j, rs * (g * wj - xhat * dot));
            }
        }
        accumulate(gw, gwAcc);
    }

    static void layerNorm(Tensor x, Tensor w, Tensor bias, double eps, Tensor out, Tensor mean, Tensor rstd) {
        Elementwise.checkOut(out, x.shape(), "layer_norm");
        Rows r = Rows.of(requireContiguous(x));
        MemorySegment sx = Elementwise.seg(x), so = Elementwise.seg(out);
        MemorySegment sw = w == null ? null : Elementwise.seg(w), sb = bias == null ? null : Elementwise.seg(bias);
        for (int i = 0; i < r.rows; i++) {
            long b = x.offset() + (long) i * r.n;
            double mu = 0;
            for (int j = 0; j < r.n; j++) {
                mu += Elements.get(sx, x.dtype(), b + j);
            }
            mu /= r.n;
            double var = 0;
            for (int j = 0; j < r.n; j++) {
                double d = Elements.get(sx, x.dtype(), b + j) - mu;
                var += d * d;
            }
            var /= r.n;
            double rs = 1.0 / Math.sqrt(var + eps);
            Elements.set(Elementwise.seg(mean), mean.dtype(), mean.offset() + i, mu);
            Elements.set(Elementwise.seg(rstd), rstd.dtype(), rstd.offset() + i, rs);
            long ob = out.offset() + (long) i * r.n;
            for (int j = 0; j < r.n; j++) {
                double y = (Elements.get(sx, x.dtype(), b + j) - mu) * rs;
                if (sw != null) {
                    y *= Elements.get(sw, w.dtype(), w.offset() + j);
                }
                if (sb != null) {
                    y += Elements.get(sb, bias.dtype(), bias.offset() + j);
                }
                Elements.set(so, out.dtype(), ob + j, y);
            }
        }
    }

    static void layerNormBackward(Tensor x, Tensor w, Tensor mean, Tensor rstd, Tensor gy, Tensor gx, Tensor gw, Tensor gb) {
        Rows r = Rows.of(requireContiguous(x));
        MemorySegment sx = Elementwise.seg(x), sg = Elementwise.seg(requireContiguous(gy)), sgx = Elementwise.seg(gx);
        MemorySegment sw = w == null ? null : Elementwise.seg(w);
        double[] gwAcc = gw == null ? null : new double[r.n];
        double[] gbAcc = gb == null ? null : new double[r.n];
        double[] xhat = new double[r.n];
        double[] gh = new double[r.n];
        for (int i = 0; i < r.rows; i++) {
            long b = x.offset() + (long) i * r.n;
            long bg = gy.offset() + (long) i * r.n;
            double mu = Elements.get(Elementwise.seg(mean), mean.dtype(), mean.offset() + i);
            double rs = Elements.get(Elementwise.seg(rstd), rstd.dtype(), rstd.offset() + i);
            double meanG = 0;
            double meanGX = 0;
            for (int j = 0; j < r.n; j++) {
                xhat[j] = (Elements.get(sx, x.dtype(), b + j) - mu) * rs;
                double g = Elements.get(sg, gy.dtype(), bg + j);
                gh[j] = g * (sw == null ? 1.0 : Elements.get(sw, w.dtype(), w.offset() + j));
                meanG += gh[j];
                meanGX += gh[j] * xhat[j];
                if (gwAcc != null) {
                    gwAcc[j] += g * xhat[j];
                }
                if (gbAcc != null) {
                    gbAcc[j] += g;
                }
            }
            meanG /= r.n;
            meanGX /= r.n;
            long bx = gx.offset() + (long) i * r.n;
            for (int j = 0; j < r.n; j++) {
                Elements.set(sgx, gx.dtype(), bx + j, rs * (gh[j] - meanG - xhat[j] * meanGX));
            }
        }
        accumulate(gw, gwAcc);
        accumulate(gb, gbAcc);
    }

    private static void accumulate(Tensor t, double[] acc) {
        if (t == null) {
            return;
        }
        MemorySegment s = Elementwise.seg(t);
        for (int j = 0; j < acc.length; j++) {
            long i = t.offset() + j;
            Elements.set(s, t.dtype(), i, Elements.get(s, t.dtype(), i) + acc[j]);
        }
    }

    static Tensor requireContiguous(Tensor t) {
        if (!t.isContiguous()) {
            throw new IllegalArgumentException("kernel needs a contiguous tensor, got strides " + java.util.Arrays.toString(t.strides()) + " for " + t);
        }
        return t;
    }
}
