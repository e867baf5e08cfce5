package ai.attune.kernels.jvm;

import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Tensor;
import ai.attune.kernels.jvm.parallel.Parallel;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.concurrent.ExecutorService;

/**
 * Vector API softmax and log-softmax over the last dim, with their backwards, on contiguous f32
 * tensors, parallel over blocks of rows. A row's max and sums run in the fixed order of {@link
 * RowMath} and every row is computed on its own, so the result is the same for any thread count.
 * Each method returns false for any other case, which then takes {@link Normalization}, the
 * reference these are tested against.
 */
final class FastSoftmax {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    private FastSoftmax() {}

    private static boolean sameF32(Tensor t, Tensor like) {
        return t.dtype() == DType.F32 && t.isContiguous() && Arrays.equals(t.shape(), like.shape());
    }

    /** Rows per parallel unit: about {@link FastActivations#CHUNK} floats, at least one row. */
    private static int rowsPerUnit(int n) {
        return Math.max(1, FastActivations.CHUNK / n);
    }

    // x, out: [rows, n]
    static boolean softmax(Tensor x, boolean log, Tensor out, ExecutorService pool, int workers) {
        if (x.rank() == 0 || !sameF32(x, x) || !sameF32(out, x) || x.size(-1) == 0) {
            return false;
        }
        int n = x.size(-1);
        int rows = (int) (x.numel() / n);
        MemorySegment sx = Elementwise.seg(x), so = Elementwise.seg(out);
        long xo = x.offset() * 4, oo = out.offset() * 4;
        int bound = F.loopBound(n);
        int perUnit = rowsPerUnit(n);
        Parallel.forEach(pool, workers, (rows + perUnit - 1) / perUnit, () -> null, s -> {}, (u, s) -> {
            for (int i = u * perUnit; i < Math.min(rows, (u + 1) * perUnit); i++) {
                long b = xo + (long) i * n * 4, ob = oo + (long) i * n * 4;
                float max = RowMath.max(sx, b, n);
                double sum = RowMath.sumExp(sx, b, n, max);
                int j = 0;
                if (log) {
                    double logSum = StrictMath.log(sum);
                    float ls = (float) logSum;
                    for (; j < bound; j += F.length()) {
                        FloatVector.fromMemorySegment(F, sx, b + j * 4L, LE).sub(max).sub(ls).intoMemorySegment(so, ob + j * 4L, LE);
                    }
                    for (; j < n; j++) {
                        so.set(Elements.F32, ob + j * 4L, (float) (sx.get(Elements.F32, b + j * 4L) - (double) max - logSum));
                    }
                } else {
                    float inv = (float) (1.0 / sum);
                    for (; j < bound; j += F.length()) {
                        FloatVector v = FloatVector.fromMemorySegment(F, sx, b + j * 4L, LE);
                        VectorMath.exp(v.sub(max)).mul(inv).intoMemorySegment(so, ob + j * 4L, LE);
                    }
                    for (; j < n; j++) {
                        so.set(Elements.F32, ob + j * 4L, (float) (StrictMath.exp(sx.get(Elements.F32, b + j * 4L) - (double) max) / sum));
                    }
                }
            }
        });
        return true;
    }

    // y, gy, gx: [rows, n]
    static boolean softmaxBackward(Tensor y, Tensor gy, boolean log, Tensor gx, ExecutorService pool, int workers) {
        if (y.rank() == 0 || !sameF32(y, y) || !sameF32(gy, y) || !sameF32(gx, y) || y.size(-1) == 0) {
            return false;
        }
        int n = y.size(-1);
        int rows = (int) (y.numel() / n);
        MemorySegment sy = Elementwise.seg(y), sg = Elementwise.seg(gy), sx = Elementwise.seg(gx);
        long yo = y.offset() * 4, go = gy.offset() * 4, xo = gx.offset() * 4;
        int bound = F.loopBound(n);
        int perUnit = rowsPerUnit(n);
        Parallel.forEach(pool, workers, (rows + perUnit - 1) / perUnit, () -> null, s -> {}, (u, s) -> {
            for (int i = u * perUnit; i < Math.min(rows, (u + 1) * perUnit); i++) {
                long by = yo + (long) i * n * 4, bg = go + (long) i * n * 4, bx = xo + (long) i * n * 4;
                // log: gx = gy - e^y * sum(gy); softmax: gx = y * (gy - sum(gy * y))
                double dot = log ? RowMath.sum(sg, bg, n, 0f) : RowMath.dot(sg, bg, sy, by, n);
                FloatVector k = FloatVector.broadcast(F, (float) dot);
                int j = 0;
                for (; j < bound; j += F.length()) {
                    FloatVector yv = FloatVector.fromMemorySegment(F, sy, by + j * 4L, LE);
                    FloatVector g = FloatVector.fromMemorySegment(F, sg, bg + j * 4L, LE);
                    FloatVector r = log ? VectorMath.exp(yv).fma(k.neg(), g) : yv.mul(g.sub(k));
                    r.intoMemorySegment(sx, bx + j * 4L, LE);
                }
                for (; j < n; j++) {
                    double yv = sy.get(Elements.F32, by + j * 4L);
                    double g = sg.get(Elements.F32, bg + j * 4L);
                    sx.set(Elements.F32, bx + j * 4L, (float) (log ? g - StrictMath.exp(yv) * dot : yv * (g - dot)));
                }
            }
        });
        return true;
    }
}
