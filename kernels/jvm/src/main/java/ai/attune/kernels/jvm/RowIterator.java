package ai.attune.kernels.jvm;

import ai.attune.api.tensor.Shape;
import ai.attune.api.tensor.Tensor;

/**
 * Walks the rows (all dims but the last) of a shape for several strided operands at once, giving
 * each operand's element index of the row's first element. Kernels then run the innermost dim
 * with that operand's last stride, which keeps SIMD on contiguous rows and handles broadcasting
 * (stride 0) and transposed views without copies.
 */
final class RowIterator {
    private final int[] shape;
    private final long[][] strides;
    private final long[] base;
    private final int[] counter;
    private final long rows;
    private long row = -1;

    RowIterator(int[] shape, long[][] strides, long[] offsets) {
        this.shape = shape;
        this.strides = strides;
        this.base = offsets.clone();
        this.counter = new int[Math.max(shape.length - 1, 0)];
        long r = 1;
        for (int i = 0; i < shape.length - 1; i++) {
            r *= shape[i];
        }
        this.rows = shape.length == 0 ? 1 : (shape[shape.length - 1] == 0 ? 0 : r);
    }

    /** Operands broadcast to {@code shape}. */
    static RowIterator of(int[] shape, Tensor... operands) {
        long[][] strides = new long[operands.length][];
        long[] offsets = new long[operands.length];
        for (int i = 0; i < operands.length; i++) {
            strides[i] = broadcastStrides(operands[i], shape);
            offsets[i] = operands[i].offset();
        }
        return new RowIterator(shape, strides, offsets);
    }

    /** Strides of {@code t} viewed at {@code shape}: 0 on broadcast dims. */
    static long[] broadcastStrides(Tensor t, int[] shape) {
        int[] ts = t.shape();
        long[] st = t.strides();
        long[] out = new long[shape.length];
        int lead = shape.length - ts.length;
        if (lead < 0) {
            throw new IllegalArgumentException("cannot view " + Shape.str(ts) + " at " + Shape.str(shape));
        }
        for (int i = 0; i < ts.length; i++) {
            if (ts[i] == shape[i + lead]) {
                out[i + lead] = st[i];
            } else if (ts[i] == 1) {
                out[i + lead] = 0;
            } else {
                throw new IllegalArgumentException("cannot broadcast " + Shape.str(ts) + " to " + Shape.str(shape));
            }
        }
        return out;
    }

    long rows() {
        return rows;
    }

    /** Length of a row (the last dim), 1 for scalars. */
    int rowLength() {
        return shape.length == 0 ? 1 : shape[shape.length - 1];
    }

    /** Stride of operand {@code op} along the row. */
    long innerStride(int op) {
        return shape.length == 0 ? 0 : strides[op][shape.length - 1];
    }

    /** Advances to the next row; false when done. */
    boolean next() {
        if (row >= 0) {
            for (int d = counter.length - 1; d >= 0; d--) {
                counter[d]++;
                for (int o = 0; o < base.length; o++) {
                    base[o] += strides[o][d];
                }
                if (counter[d] < shape[d]) {
                    break;
                }
                for (int o = 0; o < base.length; o++) {
                    base[o] -= strides[o][d] * shape[d];
                }
                counter[d] = 0;
            }
        }
        return ++row < rows;
    }

    /** Element index of the current row's first element for operand {@code op}. */
    long base(int op) {
        return base[op];
    }
}
