package ai.attune.api.autograd;

import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.BinaryOp;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.ReduceOp;
import ai.attune.api.tensor.ScalarOp;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Shape;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.UnaryOp;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Tensor math with gradients: elementwise ops with broadcasting, reductions, matmul and casts.
 * Results are allocated in the calling thread's current {@link Scope}. Each op follows the
 * PyTorch op of the same name, forward and backward.
 */
public final class Ops {
    private Ops() {}

    /** A new zero tensor like {@code t} in the current scope. */
    static Tensor emptyLike(Tensor t, int[] shape) {
        return t.backend().zeros(t.dtype(), shape, Scope.current());
    }

    /**
     * A new tensor in the current scope whose contents are undefined ({@code torch.empty}): only
     * for an output the kernel writes whole, so recycled memory need not be zeroed first.
     */
    static Tensor uninitialized(Tensor like, DType dtype, int[] shape) {
        return like.backend().empty(dtype, shape, Scope.current());
    }

    public static Tensor zeros(Backend be, DType dtype, int... shape) {
        return be.zeros(dtype, shape, Scope.current());
    }

    public static Tensor full(Backend be, DType dtype, double value, int... shape) {
        Tensor t = be.zeros(dtype, shape, Scope.current());
        be.fill(t, value);
        return t;
    }

    // ---- elementwise binary ----

    public static Tensor add(Tensor a, Tensor b) {
        return binary(BinaryOp.ADD, a, b);
    }

    public static Tensor sub(Tensor a, Tensor b) {
        return binary(BinaryOp.SUB, a, b);
    }

    public static Tensor mul(Tensor a, Tensor b) {
        return binary(BinaryOp.MUL, a, b);
    }

    public static Tensor div(Tensor a, Tensor b) {
        return binary(BinaryOp.DIV, a, b);
    }

    public static Tensor maximum(Tensor a, Tensor b) {
        return binary(BinaryOp.MAXIMUM, a, b);
    }

    public static Tensor minimum(Tensor a, Tensor b) {
        return binary(BinaryOp.MINIMUM, a, b);
    }

    public static Tensor pow(Tensor a, Tensor b) {
        return binary(BinaryOp.POW, a, b);
    }

    public static Tensor binary(BinaryOp op, Tensor a, Tensor b) {
        int[] shape = Shape.broadcast(a.shape(), b.shape());
        Tensor out = uninitialized(a, promote(a, b), shape);
        a.backend().binary(op, a, b, out);
        return OpNode.record(op.name().toLowerCase(), out, new Tensor[] {a, b}, g -> binaryBackward(op, a, b, out, g));
    }

    private static Tensor[] binaryBackward(BinaryOp op, Tensor a, Tensor b, Tensor out, Tensor g) {
        Tensor ga = null;
        Tensor gb = null;
        boolean na = a.requiresGrad();
        boolean nb = b.requiresGrad();
        switch (op) {
            case ADD -> {
                ga = na ? g : null;
                gb = nb ? g : null;
            }
            case SUB -> {
                ga = na ? g : null;
                gb = nb ? neg(g) : null;
            }
            case MUL -> {
                ga = na ? mul(g, b) : null;
                gb = nb ? mul(g, a) : null;
            }
            case DIV -> {
                ga = na ? div(g, b) : null;
                gb = nb ? neg(div(mul(g, out), b)) : null;
            }
            case MAXIMUM, MINIMUM -> {
                // Ties split the gradient in half, as torch.maximum's backward does.
                Tensor half = mulScalar(g, 0.5);
                Tensor zero = full(g.backend(), g.dtype(), 0.0);
                Tensor aWins = op == BinaryOp.MAXIMUM ? greater(a, b) : greater(b, a);
                Tensor bWins = op == BinaryOp.MAXIMUM ? greater(b, a) : greater(a, b);
                ga = na ? where(aWins, g, where(bWins, zero, half)) : null;
                gb = nb ? where(bWins, g, where(aWins, zero, half)) : null;
            }
            case POW -> {
                ga = na ? mul(g, mul(b, pow(a, addScalar(b, -1.0)))) : null;
                gb = nb ? mul(g, mul(out, unary(UnaryOp.LOG, a))) : null;
            }
        }
        return new Tensor[] {ga == null ? null : sumTo(ga, a.shape()), gb == null ? null : sumTo(gb, b.shape())};
    }

    /** 1 where a > b, else 0, in the promoted dtype; comparisons carry no gradient. */
    public static Tensor greater(Tensor a, Tensor b) {
        return compare(BinaryOp.GT, a, b);
    }

    /** 1 where a == b, else 0. */
    public static Tensor equal(Tensor a, Tensor b) {
        return compare(BinaryOp.EQ, a, b);
    }

    private static Tensor compare(BinaryOp op, Tensor a, Tensor b) {
        Tensor out = a.backend().zeros(promote(a, b), Shape.broadcast(a.shape(), b.shape()), Scope.current());
        a.backend().binary(op, a, b, out);
        return out;
    }

    /** {@code torch.where(cond, a, b)}; gradients flow to a and b. */
    public static Tensor where(Tensor cond, Tensor a, Tensor b) {
        int[] shape = Shape.broadcast(Shape.broadcast(cond.shape(), a.shape()), b.shape());
        Tensor out = a.backend().zeros(promote(a, b), shape, Scope.current());
        a.backend().where(cond, a, b, out);
        return OpNode.record("where", out, new Tensor[] {cond, a, b}, g -> {
            Tensor zero = emptyLike(g, new int[0]);
            return new Tensor[] {null,
                    a.requiresGrad() ? sumTo(where(cond, g, zero), a.shape()) : null,
                    b.requiresGrad() ? sumTo(where(cond, zero, g), b.shape()) : null};
        });
    }

    // ---- tensor-scalar ----

    public static Tensor addScalar(Tensor a, double s) {
        return scalar(ScalarOp.ADD, a, s);
    }

    public static Tensor mulScalar(Tensor a, double s) {
        return scalar(ScalarOp.MUL, a, s);
    }

    public static Tensor powScalar(Tensor a, double s) {
        return scalar(ScalarOp.POW, a, s);
    }

    public static Tensor scalar(ScalarOp op, Tensor a, double s) {
        Tensor out = uninitialized(a, a.dtype(), a.shape());
        a.backend().scalar(op, a, s, out);
        return OpNode.record(op.name().toLowerCase() + "_scalar", out, new Tensor[] {a}, g -> new Tensor[] {switch (op) {
            case ADD -> g;
            case MUL -> mulScalar(g, s);
            case RSUB -> neg(g);
            case RDIV -> neg(div(mul(g, out), a));
            case POW -> mul(g, mulScalar(powScalar(a, s - 1), s));
            // clamp_min / clamp_max: the gradient passes where the input was kept (ties included).
            case MAXIMUM -> where(greater(full(a.backend(), a.dtype(), s), a), full(a.backend(), g.dtype(), 0.0), g);
            case MINIMUM -> where(greater(a, full(a.backend(), a.dtype(), s)), full(a.backend(), g.dtype(), 0.0), g);
        }});
    }

    // ---- unary ----

    public static Tensor neg(Tensor a) {
        return unary(UnaryOp.NEG, a);
    }

    public static Tensor exp(Tensor a) {
        return unary(UnaryOp.EXP, a);
    }

    public static Tensor log(Tensor a) {
        return unary(UnaryOp.LOG, a);
    }

    public static Tensor sqrt(Tensor a) {
        return unary(UnaryOp.SQRT, a);
    }

    public static Tensor tanh(Tensor a) {
        return unary(UnaryOp.TANH, a);
    }

    public static Tensor unary(UnaryOp op, Tensor a) {
        Tensor out = uninitialized(a, a.dtype(), a.shape());
        a.backend().unary(op, a, out);
        return OpNode.record(op.name().toLowerCase(), out, new Tensor[] {a}, g -> {
            Tensor gi = emptyLike(a, a.shape());
            a.backend().unaryBackward(op, a, g, gi);
            return new Tensor[] {gi};
        });
    }

    // ---- reductions ----

    public static Tensor sum(Tensor a, int[] dims, boolean keepdim) {
        return reduce(ReduceOp.SUM, a, dims, keepdim);
    }

    /** Sum of all elements, shape []. */
    public static Tensor sum(Tensor a) {
        return reduce(ReduceOp.SUM, a, allDims(a), false);
    }

    public static Tensor mean(Tensor a, int[] dims, boolean keepdim) {
        return reduce(ReduceOp.MEAN, a, dims, keepdim);
    }

    public static Tensor mean(Tensor a) {
        return reduce(ReduceOp.MEAN, a, allDims(a), false);
    }

    /** {@code torch.amax}: the gradient is shared evenly among tied maxima. */
    public static Tensor amax(Tensor a, int[] dims, boolean keepdim) {
        return reduce(ReduceOp.MAX, a, dims, keepdim);
    }

    public static Tensor amin(Tensor a, int[] dims, boolean keepdim) {
        return reduce(ReduceOp.MIN, a, dims, keepdim);
    }

    static int[] allDims(Tensor a) {
        int[] d = new int[a.rank()];
        for (int i = 0; i < d.length; i++) {
            d[i] = i;
        }
        return d;
    }

    public static Tensor reduce(ReduceOp op, Tensor a, int[] dims, boolean keepdim) {
        int[] nd = normalizeDims(dims, a.rank());
        int[] kept = a.shape();
        for (int d : nd) {
            kept[d] = 1;
        }
        Tensor outKeep = emptyLike(a, kept);
        a.backend().reduce(op, a, nd, outKeep);
        Tensor out = keepdim ? outKeep : outKeep.asStrided(dropDims(kept, nd), Shape.contiguousStrides(dropDims(kept, nd)), 0);
        return OpNode.record(op.name().toLowerCase(), out, new Tensor[] {a}, g -> {
            Tensor gk = Views.reshape(g, kept); // [.., 1, ..] broadcastable to a
            return new Tensor[] {switch (op) {
                case SUM -> expandTo(gk, a.shape());
                case MEAN -> expandTo(mulScalar(gk, 1.0 / reducedCount(a.shape(), nd)), a.shape());
                case MAX, MIN -> {
                    Tensor mask = equal(a, outKeep);
                    Tensor count = sum(mask, nd, true);
                    yield mul(div(mask, count), gk);
                }
            }};
        });
    }

    private static long reducedCount(int[] shape, int[] dims) {
        long n = 1;
        for (int d : dims) {
            n *= shape[d];
        }
        return n;
    }

    static int[] normalizeDims(int[] dims, int rank) {
        int[] nd = new int[dims.length];
        for (int i = 0; i < dims.length; i++) {
            nd[i] = Shape.dim(dims[i], rank);
        }
        Arrays.sort(nd);
        for (int i = 1; i < nd.length; i++) {
            if (nd[i] == nd[i - 1]) {
                throw new IllegalArgumentException("dim " + nd[i] + " appears twice in " + Arrays.toString(dims));
            }
        }
        return nd;
    }

    private static int[] dropDims(int[] shape, int[] dims) {
        List<Integer> out = new ArrayList<>();
        for (int i = 0, j = 0; i < shape.length; i++) {
            if (j < dims.length && dims[j] == i) {
                j++;
            } else {
                out.add(shape[i]);
            }
        }
        return out.stream().mapToInt(Integer::intValue).toArray();
    }

    /** Materialises a broadcast of {@code t} to {@code shape} (no gradient: used inside backward). */
    static Tensor expandTo(Tensor t, int[] shape) {
        Tensor out = t.backend().zeros(t.dtype(), shape, Scope.current());
        t.backend().binary(BinaryOp.ADD, out, t, out);
        return out;
    }

    /** Sums a broadcast gradient back to an input's shape. */
    public static Tensor sumTo(Tensor g, int[] shape) {
        int[] gs = g.shape();
        if (Arrays.equals(gs, shape)) {
            return g;
        }
        int lead = gs.length - shape.length;
        List<Integer> dims = new ArrayList<>();
        for (int i = 0; i < gs.length; i++) {
            if (i < lead || (shape[i - lead] == 1 && gs[i] != 1)) {
                dims.add(i);
            }
        }
        Tensor s = sum(g, dims.stream().mapToInt(Integer::intValue).toArray(), true);
        return Views.reshape(s, shape);
    }

    // ---- matmul ----

    /** {@code torch.matmul} for inputs of rank >= 2, with batch broadcasting. */
    public static Tensor matmul(Tensor a, Tensor b) {
        return matmul(a, false, b, false);
    }

    /** {@code op(a) @ op(b)} where op transposes the last two dims when its flag is set. */
    public static Tensor matmul(Tensor left, boolean transA, Tensor right, boolean transB) {
        Tensor a = Autocast.lower(left);
        Tensor b = Autocast.lower(right);
        int[] as = a.shape();
        int[] bs = b.shape();
        int[] outShape = Shape.matmul(as, transA, bs, transB);
        Tensor out = uninitialized(a, promote(a, b), outShape); // C = op(A) op(B), beta 0: written, never read
        a.backend().matmul(a, transA, b, transB, out);
        return OpNode.record("matmul", out, new Tensor[] {a, b}, g -> {
            Tensor ga = null;
            Tensor gb = null;
            if (a.requiresGrad()) {
                ga = transA ? matmul(b, transB, g, true) : matmul(g, false, b, !transB);
                ga = sumTo(ga, as);
            }
            if (b.requiresGrad()) {
                gb = transB ? matmul(g, true, a, transA) : matmul(a, !transA, g, false);
                gb = sumTo(gb, bs);
            }
            return new Tensor[] {ga, gb};
        });
    }

    /**
     * {@code torch.addmm(bias, a, op(w))}: a [m, k] @ op(w) plus bias [n] on every row, the product
     * and the add in one kernel where the backend fuses them. Its values and gradients are those
     * of {@code add(matmul(a, w), bias)}: the bias's gradient is g summed over the rows.
     */
    public static Tensor addmm(Tensor bias, Tensor left, boolean transA, Tensor right, boolean transB) {
        Tensor a = Autocast.lower(left);
        Tensor b = Autocast.lower(right);
        Tensor c = Autocast.lower(bias);
        int[] as = a.shape();
        int[] bs = b.shape();
        int[] cs = c.shape();
        int[] outShape = Shape.matmul(as, transA, bs, transB);
        if (as.length != 2 || bs.length != 2 || cs.length != 1 || cs[0] != outShape[1]) {
            throw new IllegalArgumentException("addmm: needs a and w 2-D and bias [" + outShape[outShape.length - 1]
                    + "], got a " + Shape.str(as) + ", w " + Shape.str(bs) + ", bias " + Shape.str(cs));
        }
        Tensor out = uninitialized(a, promote(promote(a, b), c.dtype()), outShape); // written, never read
        a.backend().addmm(c, a, transA, b, transB, out);
        return OpNode.record("addmm", out, new Tensor[] {c, a, b}, g -> {
            Tensor gc = c.requiresGrad() ? sumTo(g, cs) : null;
            Tensor ga = null;
            Tensor gb = null;
            if (a.requiresGrad()) {
                ga = transA ? matmul(b, transB, g, true) : matmul(g, false, b, !transB);
            }
            if (b.requiresGrad()) {
                gb = transB ? matmul(g, true, a, transA) : matmul(a, !transA, g, false);
            }
            return new Tensor[] {gc, ga, gb};
        });
    }

    /**
     * {@code a @ op(w)} with a frozen weight {@code w} that {@code weight} materializes anew for the
     * product and for its backward, each time a new tensor released right after: a quantized base
     * weight never stays dense past its matmul. a is [rows, k]; w is [n, k] when {@code transB}, else [k, n].
     */
    public static Tensor matmul(Tensor a, java.util.function.Supplier<Tensor> weight, boolean transB) {
        return matmul(a, (left, t) -> matmulOnce(left, weight.get(), t), transB);
    }

    /**
     * {@code a @ op(w)} with a frozen weight {@code w} that {@code product} multiplies anew for the
     * forward and for the backward's {@code grad_a}, so w exists only inside those products (or
     * never whole, where the product decodes it while it multiplies). a is [rows, k]; w is [n, k]
     * when {@code transB}, else [k, n]. w gets no gradient.
     */
    public static Tensor matmul(Tensor a, WeightProduct product, boolean transB) {
        return new SourcedMatmul(product, transB).apply(a)[0];
    }

    /**
     * {@code left @ op(w)} for a {@code w} made for this product alone: cast to the autocast dtype
     * as {@link #matmul(Tensor, boolean, Tensor, boolean)} would, multiplied, then given back with
     * its cast, so a dense copy of a compact weight does not outlive the product. w gets no gradient.
     */
    public static Tensor matmulOnce(Tensor left, Tensor w, boolean transB) {
        DType low = Autocast.dtype();
        Tensor wc = low != null && w.dtype() == DType.F32 ? to(w, low) : w;
        Tensor out = matmul(left, false, wc, transB);
        if (wc != w) {
            wc.storage().release();
        }
        w.storage().release();
        return out;
    }

    // ---- dtype ----

    /** {@code t.to(dtype)}; the gradient is cast back. */
    public static Tensor to(Tensor t, DType dtype) {
        if (t.dtype() == dtype) {
            return t;
        }
        Tensor out = uninitialized(t, dtype, t.shape());
        t.backend().copy(t, out);
        return OpNode.record("to_" + dtype.name().toLowerCase(), out, new Tensor[] {t}, g -> new Tensor[] {to(g, t.dtype())});
    }

    /** The result dtype of a binary op: the wider floating type, as PyTorch's type promotion for same-kind tensors. */
    static DType promote(Tensor a, Tensor b) {
        return promote(a.dtype(), b.dtype());
    }

    static DType promote(DType x, DType y) {
        if (x == y) {
            return x;
        }
        if (x == DType.F64 || y == DType.F64) {
            return DType.F64;
        }
        if (x == DType.F32 || y == DType.F32) {
            return DType.F32;
        }
        if (x.isFloatingPoint() != y.isFloatingPoint()) {
            return x.isFloatingPoint() ? x : y;
        }
        // bf16 with f16 promotes to f32, as in PyTorch.
        return x.isFloatingPoint() ? DType.F32 : DType.I64;
    }
}
