package ai.attune.kernels.jvm;

import ai.attune.api.tensor.BinaryOp;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.NativeStorage;
import ai.attune.api.tensor.ScalarOp;
import ai.attune.api.tensor.Shape;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.UnaryOp;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * Elementwise kernels over strided, broadcast operands. Values are computed in double and rounded
 * once into the output dtype, which for + - * / and sqrt gives exactly PyTorch's float result.
 */
final class Elementwise {
    private Elementwise() {}

    /**
     * The memory behind {@code t}. Any backend's host-memory tensor will do, not only this
     * backend's: the libtorch backend hands its tensors to these kernels (dropout) as they are.
     */
    static MemorySegment seg(Tensor t) {
        if (!(t.storage() instanceof NativeStorage s)) {
            throw new IllegalArgumentException("the jvm backend reads host memory only; " + t + " lives in "
                    + t.storage().getClass().getSimpleName() + " of backend " + t.backend().name() + ": copy it to the cpu first");
        }
        return s.segment();
    }

    static void checkOut(Tensor out, int[] shape, String op) {
        if (!Arrays.equals(out.shape(), shape)) {
            throw new IllegalArgumentException(op + ": out has shape " + Shape.str(out.shape()) + ", expected " + Shape.str(shape));
        }
    }

    static void copy(Tensor src, Tensor dst) {
        int[] shape = dst.shape();
        RowIterator it = RowIterator.of(shape, dst, src);
        MemorySegment s = seg(src);
        MemorySegment d = seg(dst);
        DType st = src.dtype();
        DType dt = dst.dtype();
        long sd = it.innerStride(0);
        long ss = it.innerStride(1);
        int n = it.rowLength();
        boolean integral = !st.isFloatingPoint() && !dt.isFloatingPoint();
        while (it.next()) {
            long di = it.base(0);
            long si = it.base(1);
            if (st == dt && sd == 1 && ss == 1) {
                long bytes = (long) n * st.byteSize();
                MemorySegment.copy(s, si * st.byteSize(), d, di * dt.byteSize(), bytes);
                continue;
            }
            for (int j = 0; j < n; j++, di += sd, si += ss) {
                if (integral) {
                    Elements.setLong(d, dt, di, Elements.getLong(s, st, si));
                } else {
                    Elements.set(d, dt, di, Elements.get(s, st, si));
                }
            }
        }
    }

    static void fill(Tensor dst, double value) {
        RowIterator it = RowIterator.of(dst.shape(), dst);
        MemorySegment d = seg(dst);
        long sd = it.innerStride(0);
        int n = it.rowLength();
        while (it.next()) {
            long di = it.base(0);
            for (int j = 0; j < n; j++, di += sd) {
                Elements.set(d, dst.dtype(), di, value);
            }
        }
    }

    static void binary(BinaryOp op, Tensor a, Tensor b, Tensor out) {
        int[] shape = Shape.broadcast(a.shape(), b.shape());
        checkOut(out, shape, "binary " + op);
        RowIterator it = RowIterator.of(shape, out, a, b);
        MemorySegment so = seg(out), sa = seg(a), sb = seg(b);
        long[] inc = {it.innerStride(0), it.innerStride(1), it.innerStride(2)};
        int n = it.rowLength();
        while (it.next()) {
            long io = it.base(0), ia = it.base(1), ib = it.base(2);
            for (int j = 0; j < n; j++, io += inc[0], ia += inc[1], ib += inc[2]) {
                double x = Elements.get(sa, a.dtype(), ia);
                double y = Elements.get(sb, b.dtype(), ib);
                Elements.set(so, out.dtype(), io, apply(op, x, y));
            }
        }
    }

    static double apply(BinaryOp op, double x, double y) {
        return switch (op) {
            case ADD -> x + y;
            case SUB -> x - y;
            case MUL -> x * y;
            case DIV -> x / y;
            case MAXIMUM -> Double.isNaN(x) || Double.isNaN(y) ? Double.NaN : Math.max(x, y);
            case MINIMUM -> Double.isNaN(x) || Double.isNaN(y) ? Double.NaN : Math.min(x, y);
            case POW -> Math.pow(x, y);
            case GT -> x > y ? 1.0 : 0.0;
            case EQ -> x == y ? 1.0 : 0.0;
        };
    }

    static void scalar(ScalarOp op, Tensor a, double s, Tensor out) {
        checkOut(out, a.shape(), "scalar " + op);
        RowIterator it = RowIterator.of(a.shape(), out, a);
        MemorySegment so = seg(out), sa = seg(a);
        long io0 = it.innerStride(0), ia0 = it.innerStride(1);
        int n = it.rowLength();
        while (it.next()) {
            long io = it.base(0), ia = it.base(1);
            for (int j = 0; j < n; j++, io += io0, ia += ia0) {
                double x = Elements.get(sa, a.dtype(), ia);
                double r = switch (op) {
                    case ADD -> x + s;
                    case MUL -> x * s;
                    case RSUB -> s - x;
                    case RDIV -> s / x;
                    case POW -> Math.pow(x, s);
                    case MAXIMUM -> apply(BinaryOp.MAXIMUM, x, s);
                    case MINIMUM -> apply(BinaryOp.MINIMUM, x, s);
                };
                Elements.set(so, out.dtype(), io, r);
            }
        }
    }

    static void unary(UnaryOp op, Tensor a, Tensor out) {
        checkOut(out, a.shape(), "unary " + op);
        RowIterator it = RowIterator.of(a.shape(), out, a);
        MemorySegment so = seg(out), sa = seg(a);
        long io0 = it.innerStride(0), ia0 = it.innerStride(1);
        int n = it.rowLength();
        while (it.next()) {
            long io = it.base(0), ia = it.base(1);
            for (int j = 0; j < n; j++, io += io0, ia += ia0) {
                Elements.set(so, out.dtype(), io, Activations.forward(op, Elements.get(sa, a.dtype(), ia)));
            }
        }
    }

    static void unaryBackward(UnaryOp op, Tensor x, Tensor gradOut, Tensor gradIn) {
        checkOut(gradIn, x.shape(), "unary backward " + op);
        RowIterator it = RowIterator.of(x.shape(), gradIn, x, gradOut);
        MemorySegment si = seg(gradIn), sx = seg(x), sg = seg(gradOut);
        long a0 = it.innerStride(0), a1 = it.innerStride(1), a2 = it.innerStride(2);
        int n = it.rowLength();
        while (it.next()) {
            long ii = it.base(0), ix = it.base(1), ig = it.base(2);
            for (int j = 0; j < n; j++, ii += a0, ix += a1, ig += a2) {
                double d = Activations.derivative(op, Elements.get(sx, x.dtype(), ix));
                Elements.set(si, gradIn.dtype(), ii, Elements.get(sg, gradOut.dtype(), ig) * d);
            }
        }
    }

    static void where(Tensor cond, Tensor a, Tensor b, Tensor out) {
        int[] shape = Shape.broadcast(Shape.broadcast(cond.shape(), a.shape()), b.shape());
        checkOut(out, shape, "where");
        RowIterator it = RowIterator.of(shape, out, cond, a, b);
        MemorySegment so = seg(out), sc = seg(cond), sa = seg(a), sb = seg(b);
        long[] inc = {it.innerStride(0), it.innerStride(1), it.innerStride(2), it.innerStride(3)};
        int n = it.rowLength();
        while (it.next()) {
            long io = it.base(0), ic = it.base(1), ia = it.base(2), ib = it.base(3);
            for (int j = 0; j < n; j++, io += inc[0], ic += inc[1], ia += inc[2], ib += inc[3]) {
                boolean c = Elements.get(sc, cond.dtype(), ic) != 0;
                Elements.set(so, out.dtype(), io, c ? Elements.get(sa, a.dtype(), ia) : Elements.get(sb, b.dtype(), ib));
            }
        }
    }
}
