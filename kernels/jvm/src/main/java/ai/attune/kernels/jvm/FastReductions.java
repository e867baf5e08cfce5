package ai.attune.kernels.jvm;

import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.ReduceOp;
import ai.attune.api.tensor.Shape;
import ai.attune.api.tensor.Tensor;
import ai.attune.kernels.jvm.parallel.Parallel;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.concurrent.ExecutorService;

/**
 * Sums and means of a contiguous f32 tensor over one run of adjacent dims, the reductions a
 * training step makes (a bias's gradient sums [batch, seq, out] over its first two dims, mean
 * pooling sums over the sequence): the tensor is read as [outer, reduced, inner], and each
 * output element accumulates its inputs in f64 in index order, exactly as {@link Reductions}
 * does, so the bits are the reference's for any thread count. The pool splits the outputs.
 */
final class FastReductions {
    /** Output columns a unit accumulates together: its f64 accumulators stay in L1. */
    private static final int COLUMNS = 512;

    private FastReductions() {}

    static boolean reduce(ReduceOp op, Tensor a, int[] dims, Tensor out, ExecutorService pool, int workers) {
        if (!(op == ReduceOp.SUM || op == ReduceOp.MEAN) || a.dtype() != DType.F32 || out.dtype() != DType.F32 || !a.isContiguous()
                || !out.isContiguous() || dims.length == 0) {
            return false;
        }
        int[] shape = a.shape();
        int[] sorted = Arrays.stream(dims).map(d -> Shape.dim(d, shape.length)).sorted().distinct().toArray();
        for (int k = 1; k < sorted.length; k++) {
            if (sorted[k] != sorted[k - 1] + 1) {
                return false; // not one run of adjacent dims
            }
        }
        int[] kept = shape.clone();
        long outer = 1, reduced = 1, inner = 1;
        for (int d = 0; d < shape.length; d++) {
            if (d < sorted[0]) {
                outer *= shape[d];
            } else if (d <= sorted[sorted.length - 1]) {
                reduced *= shape[d];
                kept[d] = 1;
            } else {
                inner *= shape[d];
            }
        }
        if (!Arrays.equals(out.shape(), kept) || reduced == 0) {
            return false; // the reference reports the shape error, and an empty mean's NaN
        }
        MemorySegment sa = Elementwise.seg(a), so = Elementwise.seg(out);
        long ao = a.offset(), oo = out.offset();
        double count = reduced;
        long blocks = (inner + COLUMNS - 1) / COLUMNS;
        long red = reduced, in = inner;
        Parallel.forEach(pool, workers, Math.toIntExact(outer * blocks), () -> new double[COLUMNS], x -> {}, (u, acc) -> {
            long o = u / blocks;
            long first = (u % blocks) * COLUMNS;
            int width = (int) Math.min(COLUMNS, in - first);
            Arrays.fill(acc, 0, width, 0.0);
            long base = ao + o * red * in + first;
            for (long r = 0; r < red; r++) {
                long row = (base + r * in) * 4;
                for (int i = 0; i < width; i++) {
                    acc[i] += sa.get(Elements.F32, row + i * 4L);
                }
            }
            long dst = (oo + o * in + first) * 4;
            for (int i = 0; i < width; i++) {
                so.set(Elements.F32, dst + i * 4L, (float) (op == ReduceOp.MEAN ? acc[i] / count : acc[i]));
            }
        });
        return true;
    }

    /** Elements a unit of {@link #sumOfSquares} sums in order: its partial is one of a fixed sequence. */
    static final int SQUARES_CHUNK = 1 << 16;

    /**
     * sum(t^2) of a contiguous f32 tensor in f64: each unit of {@value #SQUARES_CHUNK} elements sums
     * its squares in index order and the units' partials are added in unit order, so the value is
     * the same for any thread count (and within f64 rounding of the index-order sum). NaN for a
     * tensor that is not contiguous f32, which the caller then sums the reference way.
     */
    static double sumOfSquares(Tensor t, ExecutorService pool, int workers) {
        if (t.dtype() != DType.F32 || !t.isContiguous()) {
            return Double.NaN;
        }
        long n = t.numel();
        int units = FastElementwise.units(n, SQUARES_CHUNK);
        double[] partial = new double[units];
        MemorySegment s = Elementwise.seg(t);
        long off = t.offset() * 4;
        Parallel.forEach(pool, workers, units, () -> null, x -> {}, (u, x) -> {
            long from = (long) u * SQUARES_CHUNK;
            long to = Math.min(n, from + SQUARES_CHUNK);
            double sum = 0;
            for (long i = from; i < to; i++) {
                double v = s.get(Elements.F32, off + i * 4);
                sum += v * v;
            }
            partial[u] = sum;
        });
        double total = 0;
        for (double p : partial) {
            total += p;
        }
        return total;
    }
}
