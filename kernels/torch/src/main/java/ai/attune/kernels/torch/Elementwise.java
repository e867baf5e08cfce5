package ai.attune.kernels.torch;

import ai.attune.api.tensor.BinaryOp;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.ScalarOp;
import ai.attune.api.tensor.Shape;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.UnaryOp;
import org.bytedeco.pytorch.global.torch;

import static ai.attune.kernels.torch.Aten.as;
import static ai.attune.kernels.torch.Aten.scalar;
import static ai.attune.kernels.torch.Aten.view;

/**
 * Copies, fills and the elementwise ops through ATen's TensorIterator kernels, which handle
 * strides, broadcasting and type promotion themselves. When operands and output share a dtype the
 * {@code *_out} variant writes straight into the output; otherwise the op runs on the promoted
 * type and the result is cast into the output, as {@code torch.add(a, b, out=c)} would.
 */
final class Elementwise {
    private Elementwise() {}

    static void copy(Tensor src, Tensor dst) {
        Aten.checkShape(dst, src.shape(), "copy", "dst");
        view(dst).copy_(view(src));
    }

    static void fill(Tensor dst, double value) {
        view(dst).fill_(scalar(value));
    }

    static void binary(BinaryOp op, Tensor a, Tensor b, Tensor out) {
        Aten.checkShape(out, Shape.broadcast(a.shape(), b.shape()), "binary " + op, "out");
        var x = view(a);
        var y = view(b);
        var o = view(out);
        if (a.dtype() != out.dtype() || b.dtype() != out.dtype()) {
            o.copy_(binary(op, x, y));
            return;
        }
        switch (op) {
            case ADD -> torch.add_out(o, x, y);
            case SUB -> torch.sub_out(o, x, y);
            case MUL -> torch.mul_out(o, x, y);
            case DIV -> torch.div_out(o, x, y);
            case MAXIMUM -> torch.maximum_out(o, x, y);
            case MINIMUM -> torch.minimum_out(o, x, y);
            case POW -> torch.pow_out(o, x, y);
            // Comparisons give bool; the output dtype holds them as 1 and 0.
            case GT, EQ -> o.copy_(binary(op, x, y));
        }
    }

    private static org.bytedeco.pytorch.Tensor binary(BinaryOp op, org.bytedeco.pytorch.Tensor x, org.bytedeco.pytorch.Tensor y) {
        return switch (op) {
            case ADD -> x.add(y);
            case SUB -> x.sub(y);
            case MUL -> x.mul(y);
            case DIV -> x.div(y);
            case MAXIMUM -> torch.maximum(x, y);
            case MINIMUM -> torch.minimum(x, y);
            case POW -> x.pow(y);
            case GT -> x.gt(y);
            case EQ -> x.eq(y);
        };
    }

    static void tensorScalar(ScalarOp op, Tensor a, double s, Tensor out) {
        Aten.checkShape(out, a.shape(), "scalar " + op, "out");
        var x = view(a);
        var o = view(out);
        // A 0-d tensor takes part in type promotion as a Python scalar does: x keeps its dtype.
        var k = torch.scalar_tensor(scalar(s), Aten.options(DType.F64));
        if (a.dtype() != out.dtype()) {
            o.copy_(switch (op) {
                case ADD -> x.add(k);
                case MUL -> x.mul(k);
                case RSUB -> k.sub(x);
                case RDIV -> k.div(x);
                case POW -> x.pow(scalar(s));
                case MAXIMUM -> torch.clamp_min(x, scalar(s));
                case MINIMUM -> torch.clamp_max(x, scalar(s));
            });
            return;
        }
        switch (op) {
            case ADD -> torch.add_out(o, x, k);
            case MUL -> torch.mul_out(o, x, k);
            case RSUB -> torch.sub_out(o, k, x);
            case RDIV -> torch.div_out(o, k, x);
            case POW -> torch.pow_out(o, x, scalar(s));
            // clamp propagates NaN, as torch.maximum and the jvm reference do.
            case MAXIMUM -> torch.clamp_min_out(o, x, scalar(s));
            case MINIMUM -> torch.clamp_max_out(o, x, scalar(s));
        }
    }

    static void unary(UnaryOp op, Tensor a, Tensor out) {
        Aten.checkShape(out, a.shape(), "unary " + op, "out");
        var x = view(a);
        var o = view(out);
        if (a.dtype() != out.dtype()) {
            o.copy_(unary(op, x));
            return;
        }
        switch (op) {
            case NEG -> torch.neg_out(o, x);
            case ABS -> torch.abs_out(o, x);
            case EXP -> torch.exp_out(o, x);
            case LOG -> torch.log_out(o, x);
            case SQRT -> torch.sqrt_out(o, x);
            case RSQRT -> torch.rsqrt_out(o, x);
            case SQUARE -> torch.mul_out(o, x, x);
            case RECIPROCAL -> torch.reciprocal_out(o, x);
            case SIN -> torch.sin_out(o, x);
            case COS -> torch.cos_out(o, x);
            case TANH -> torch.tanh_out(o, x);
            case SIGMOID -> torch.sigmoid_out(o, x);
            case RELU -> torch.clamp_min_out(o, x, scalar(0));
            case SILU -> torch.silu_out(o, x);
            case GELU_ERF -> torch.gelu_out(o, x, "none");
            case GELU_TANH -> torch.gelu_out(o, x, "tanh");
        }
    }

    private static org.bytedeco.pytorch.Tensor unary(UnaryOp op, org.bytedeco.pytorch.Tensor x) {
        return switch (op) {
            case NEG -> x.neg();
            case ABS -> x.abs();
            case EXP -> x.exp();
            case LOG -> x.log();
            case SQRT -> x.sqrt();
            case RSQRT -> x.rsqrt();
            case SQUARE -> x.square();
            case RECIPROCAL -> x.reciprocal();
            case SIN -> x.sin();
            case COS -> x.cos();
            case TANH -> x.tanh();
            case SIGMOID -> x.sigmoid();
            case RELU -> torch.clamp_min(x, scalar(0));
            case SILU -> torch.silu(x);
            case GELU_ERF -> torch.gelu(x, "none");
            case GELU_TANH -> torch.gelu(x, "tanh");
        };
    }

    /** {@code gradIn = gradOut * f'(x)}, computed in f32 (f64 for f64) and rounded once into gradIn. */
    static void unaryBackward(UnaryOp op, Tensor x, Tensor gradOut, Tensor gradIn) {
        Aten.checkShape(gradIn, x.shape(), "unary backward " + op, "gradIn");
        DType acc = Aten.accumulation(x, gradOut, gradIn);
        var v = as(view(x), acc);
        var g = as(view(gradOut), acc);
        var r = switch (op) {
            case NEG -> g.neg();
            case ABS -> g.mul(v.sign());
            case EXP -> g.mul(v.exp());
            case LOG -> g.div(v);
            case SQRT -> g.div(v.sqrt()).mul(scalar(0.5));
            case RSQRT -> g.mul(v.rsqrt()).div(v).mul(scalar(-0.5));
            case SQUARE -> g.mul(v).mul(scalar(2.0));
            case RECIPROCAL -> g.div(v.square()).neg();
            case SIN -> g.mul(v.cos());
            case COS -> g.mul(v.sin()).neg();
            case TANH -> torch.tanh_backward(g, v.tanh());
            case SIGMOID -> torch.sigmoid_backward(g, v.sigmoid());
            // d relu / dx at 0 is 0, as in PyTorch.
            case RELU -> torch.threshold_backward(g, v, scalar(0));
            case SILU -> torch.silu_backward(g, v);
            case GELU_ERF -> torch.gelu_backward(g, v, "none");
            case GELU_TANH -> torch.gelu_backward(g, v, "tanh");
        };
        view(gradIn).copy_(r);
    }

    static void where(Tensor cond, Tensor a, Tensor b, Tensor out) {
        int[] shape = Shape.broadcast(Shape.broadcast(cond.shape(), a.shape()), b.shape());
        Aten.checkShape(out, shape, "where", "out");
        var c = view(cond).ne(scalar(0));
        var o = view(out);
        if (a.dtype() == out.dtype() && b.dtype() == out.dtype()) {
            torch.where_out(o, c, view(a), view(b));
        } else {
            o.copy_(torch.where(c, view(a), view(b)));
        }
    }
}
