package ai.attune.kernels.jvm;

import ai.attune.api.tensor.ReduceOp;
import ai.attune.api.tensor.Shape;
import ai.attune.api.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/** Reductions over any dims, accumulated in double. */
final class Reductions {
    private Reductions() {}

    static void reduce(ReduceOp op, Tensor a, int[] dims, Tensor out) {
        int[] shape = a.shape();
        int[] kept = shape.clone();
        for (int d : dims) {
            kept[Shape.dim(d, shape.length)] = 1;
        }
        if (!Arrays.equals(out.shape(), kept) || !out.isContiguous()) {
            throw new IllegalArgumentException("reduce: out must be contiguous " + Shape.str(kept) + ", got " + Shape.str(out.shape()));
        }
        int n = Math.toIntExact(out.numel());
        double[] acc = new double[n];
        double init = switch (op) {
            case SUM, MEAN -> 0.0;
            case MAX -> Double.NEGATIVE_INFINITY;
            case MIN -> Double.POSITIVE_INFINITY;
        };
        Arrays.fill(acc, init);
        long count = 1;
        for (int d : dims) {
            count *= shape[Shape.dim(d, shape.length)];
        }
        if (count == 0 && (op == ReduceOp.MAX || op == ReduceOp.MIN)) {
            throw new IllegalArgumentException("max/min of an empty dim has no identity: shape " + Shape.str(shape));
        }
        // Out viewed at a's shape with stride 0 on reduced dims: each input element finds its slot.
        Tensor outView = out.asStrided(kept, out.strides(), 0);
        RowIterator it = RowIterator.of(shape, a, outView);
        MemorySegment sa = Elementwise.seg(a);
        long ia0 = it.innerStride(0);
        long io0 = it.innerStride(1);
        int len = it.rowLength();
        while (it.next()) {
            long ia = it.base(0);
            int io = (int) it.base(1);
            for (int j = 0; j < len; j++, ia += ia0, io += (int) io0) {
                double x = Elements.get(sa, a.dtype(), ia);
                acc[io] = switch (op) {
                    case SUM, MEAN -> acc[io] + x;
                    case MAX -> Double.isNaN(x) || x > acc[io] ? x : acc[io];
                    case MIN -> Double.isNaN(x) || x < acc[io] ? x : acc[io];
                };
            }
        }
        MemorySegment so = Elementwise.seg(out);
        for (int i = 0; i < n; i++) {
            double v = op == ReduceOp.MEAN ? acc[i] / count : acc[i];
            Elements.set(so, out.dtype(), out.offset() + i, v);
        }
    }
}
