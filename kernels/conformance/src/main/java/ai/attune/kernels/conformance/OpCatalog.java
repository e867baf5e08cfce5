package ai.attune.kernels.conformance;

import ai.attune.api.autograd.F;
import ai.attune.api.autograd.Ops;
import ai.attune.api.autograd.Views;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.BinaryOp;
import ai.attune.api.tensor.Blockwise4Bit;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.ScalarOp;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;
import ai.attune.api.tensor.UnaryOp;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static ai.attune.kernels.conformance.OpCase.Domain.ANY;
import static ai.attune.kernels.conformance.OpCase.Domain.AWAY_FROM_ZERO;
import static ai.attune.kernels.conformance.OpCase.Domain.POSITIVE;

/**
 * Every differentiable op over several shapes: broadcasting, odd sizes, size-1 and empty dims.
 * Gradient checks and backend conformance both iterate this list, so a new op joins both.
 */
public final class OpCatalog {
    private OpCatalog() {}

    static int[][] s(int[]... shapes) {
        return shapes;
    }

    static int[] d(int... dims) {
        return dims;
    }

    public static List<OpCase> cases() {
        List<OpCase> c = new ArrayList<>();
        int[][][] pairs = {
                s(d(3, 4), d(3, 4)), s(d(3, 4), d(4)), s(d(2, 1, 3), d(1, 5, 1)), s(d(1), d(3)),
                s(d(), d(2, 3)), s(d(0, 3), d(3)), s(d(7, 1), d(1, 9)),
                // wider than a vector register, so SIMD loops and their tails both run
                s(d(5, 37), d(5, 37)), s(d(6, 33), d(33))};
        for (BinaryOp op : new BinaryOp[] {BinaryOp.ADD, BinaryOp.SUB, BinaryOp.MUL, BinaryOp.DIV, BinaryOp.MAXIMUM, BinaryOp.MINIMUM, BinaryOp.POW}) {
            OpCase.Domain dom = op == BinaryOp.DIV || op == BinaryOp.POW ? POSITIVE : op == BinaryOp.MAXIMUM || op == BinaryOp.MINIMUM ? AWAY_FROM_ZERO : ANY;
            for (int[][] p : pairs) {
                c.add(new OpCase(op.name().toLowerCase(), p, dom, (be, in) -> Ops.binary(op, in[0], in[1])));
            }
        }
        for (ScalarOp op : ScalarOp.values()) {
            OpCase.Domain dom = op == ScalarOp.RDIV || op == ScalarOp.POW ? POSITIVE : AWAY_FROM_ZERO;
            double k = op == ScalarOp.POW ? 2.5 : op == ScalarOp.MAXIMUM || op == ScalarOp.MINIMUM ? 0.05 : -1.75;
            c.add(new OpCase(op.name().toLowerCase() + "_scalar", s(d(3, 5)), dom, (be, in) -> Ops.scalar(op, in[0], k)));
            c.add(new OpCase(op.name().toLowerCase() + "_scalar", s(d(4, 45)), dom, (be, in) -> Ops.scalar(op, in[0], k)));
        }
        for (UnaryOp op : UnaryOp.values()) {
            OpCase.Domain dom = switch (op) {
                case LOG, SQRT, RSQRT, RECIPROCAL -> POSITIVE;
                case ABS, RELU -> AWAY_FROM_ZERO;
                default -> ANY;
            };
            for (int[] shape : new int[][] {d(4, 5), d(1), d(0, 2), d(2, 3, 3), d(7, 41)}) {
                c.add(new OpCase(op.name().toLowerCase(), s(shape), dom, (be, in) -> Ops.unary(op, in[0])));
            }
        }
        // reductions
        c.add(new OpCase("sum_all", s(d(3, 4)), ANY, (be, in) -> Ops.sum(in[0])));
        c.add(new OpCase("sum_dim1", s(d(3, 4, 2)), ANY, (be, in) -> Ops.sum(in[0], d(1), false)));
        c.add(new OpCase("sum_dims_keep", s(d(3, 4, 2)), ANY, (be, in) -> Ops.sum(in[0], d(0, 2), true)));
        c.add(new OpCase("sum_empty", s(d(0, 4)), ANY, (be, in) -> Ops.sum(in[0], d(0), false)));
        c.add(new OpCase("mean_last", s(d(5, 7)), ANY, (be, in) -> Ops.mean(in[0], d(-1), true)));
        c.add(new OpCase("mean_all", s(d(2, 3, 1)), ANY, (be, in) -> Ops.mean(in[0])));
        c.add(new OpCase("amax_dim0", s(d(4, 3)), ANY, (be, in) -> Ops.amax(in[0], d(0), false)));
        c.add(new OpCase("amin_last", s(d(4, 3)), ANY, (be, in) -> Ops.amin(in[0], d(-1), true)));
        // matmul
        c.add(new OpCase("matmul", s(d(3, 4), d(4, 5)), ANY, (be, in) -> Ops.matmul(in[0], in[1])));
        c.add(new OpCase("matmul_tA", s(d(4, 3), d(4, 5)), ANY, (be, in) -> Ops.matmul(in[0], true, in[1], false)));
        c.add(new OpCase("matmul_tB", s(d(3, 4), d(5, 4)), ANY, (be, in) -> Ops.matmul(in[0], false, in[1], true)));
        c.add(new OpCase("matmul_tAtB", s(d(4, 3), d(5, 4)), ANY, (be, in) -> Ops.matmul(in[0], true, in[1], true)));
        c.add(new OpCase("bmm_broadcast", s(d(2, 1, 3, 4), d(3, 4, 2)), ANY, (be, in) -> Ops.matmul(in[0], in[1])));
        c.add(new OpCase("matmul_m1_k1", s(d(1, 1), d(1, 6)), ANY, (be, in) -> Ops.matmul(in[0], in[1])));
        c.add(new OpCase("matmul_k0", s(d(2, 0), d(0, 3)), ANY, (be, in) -> Ops.matmul(in[0], in[1])));
        c.add(new OpCase("matmul_transposed_view", s(d(4, 3), d(4, 5)), ANY,
                (be, in) -> Ops.matmul(Views.transpose(in[0], 0, 1), in[1])));
        c.add(new OpCase("linear", s(d(2, 3, 4), d(5, 4), d(5)), ANY, (be, in) -> F.linear(in[0], in[1], in[2])));
        c.add(new OpCase("addmm", s(d(9, 4), d(4, 5), d(5)), ANY, (be, in) -> Ops.addmm(in[2], in[0], false, in[1], false)));
        c.add(new OpCase("addmm_tAtB", s(d(4, 9), d(5, 4), d(5)), ANY, (be, in) -> Ops.addmm(in[2], in[0], true, in[1], true)));
        // a frozen 4-bit weight [9, 37] (odd element count, three blocks), x @ W^T and x @ W, gradient to x only
        c.add(new OpCase("matmul_4bit_tB", s(d(6, 37)), ANY, (be, in) -> Ops.matmul(in[0], (x, t) -> fourBit(be, x, t, 9, 37), true)));
        c.add(new OpCase("matmul_4bit", s(d(6, 9)), ANY, (be, in) -> Ops.matmul(in[0], (x, t) -> fourBit(be, x, t, 9, 37), false)));
        // views
        c.add(new OpCase("reshape", s(d(2, 6)), ANY, (be, in) -> Ops.mul(Views.reshape(in[0], 3, -1), Views.reshape(in[0], 3, 4))));
        c.add(new OpCase("transpose_reshape", s(d(2, 3, 4)), ANY, (be, in) -> Views.reshape(Views.transpose(in[0], 0, 2), -1)));
        c.add(new OpCase("permute", s(d(2, 3, 4)), ANY, (be, in) -> Views.contiguous(Views.permute(in[0], 2, 0, 1))));
        c.add(new OpCase("slice", s(d(5, 3)), ANY, (be, in) -> Ops.mul(Views.slice(in[0], 0, 1, 4), Views.slice(in[0], 0, 2, 5))));
        c.add(new OpCase("concat", s(d(2, 3), d(2, 1), d(2, 0)), ANY, (be, in) -> Views.concat(List.of(in[0], in[1], in[2]), 1)));
        c.add(new OpCase("unsqueeze_flatten", s(d(2, 3, 2)), ANY, (be, in) -> Views.flatten(Views.unsqueeze(in[0], 1), 0, 2)));
        c.add(new OpCase("where", s(d(3, 4), d(4)), ANY, (be, in) -> Ops.where(Ops.greater(in[0], Ops.full(be, in[0].dtype(), 0.0)), in[0], in[1])));
        // softmax and norms
        c.add(new OpCase("softmax", s(d(3, 7)), ANY, (be, in) -> F.softmax(in[0], -1)));
        c.add(new OpCase("log_softmax", s(d(3, 7)), ANY, (be, in) -> F.logSoftmax(in[0], -1)));
        c.add(new OpCase("softmax_dim0", s(d(4, 3)), ANY, (be, in) -> F.softmax(in[0], 0)));
        c.add(new OpCase("softmax_single", s(d(2, 1)), ANY, (be, in) -> F.softmax(in[0], -1)));
        c.add(new OpCase("rms_norm", s(d(3, 8), d(8)), ANY, (be, in) -> F.rmsNorm(in[0], in[1], 1e-5)));
        c.add(new OpCase("rms_norm_no_weight", s(d(2, 2, 5)), ANY, (be, in) -> F.rmsNorm(in[0], null, 1e-6)));
        c.add(new OpCase("layer_norm", s(d(3, 6), d(6), d(6)), ANY, (be, in) -> F.layerNorm(in[0], in[1], in[2], 1e-5)));
        c.add(new OpCase("layer_norm_plain", s(d(4, 5)), ANY, (be, in) -> F.layerNorm(in[0], null, null, 1e-12)));
        // positional, indexing, loss, dropout
        c.add(new OpCase("rope", s(d(2, 3, 4, 6)), ANY, (be, in) -> F.rope(in[0],
                Tensors.ofLongs(be, new long[] {0, 1, 2, 3, 5, 9, 13, 400}, 2, 4), F.ropeInvFreq(10000.0, 6))));
        c.add(new OpCase("rope_transposed_view", s(d(1, 4, 2, 4)), ANY, (be, in) -> F.rope(Views.transpose(in[0], 1, 2),
                Tensors.ofLongs(be, new long[] {3, 4, 5, 6}, 1, 4), F.ropeInvFreq(500000.0, 4))));
        c.add(new OpCase("embedding", s(d(5, 3)), ANY, (be, in) -> F.embedding(in[0], Tensors.ofLongs(be, new long[] {4, 0, 4, 2, 2, 2}, 2, 3))));
        c.add(new OpCase("index_select", s(d(4, 3)), ANY, (be, in) -> F.indexSelect(in[0], 1, Tensors.ofLongs(be, new long[] {2, 0, 2}, 3))));
        c.add(new OpCase("cross_entropy_mean", s(d(4, 5)), ANY, (be, in) -> F.crossEntropy(in[0],
                Tensors.ofLongs(be, new long[] {1, -100, 4, 0}, 4), -100, F.Reduction.MEAN)));
        c.add(new OpCase("cross_entropy_sum", s(d(3, 2)), ANY, (be, in) -> F.crossEntropy(in[0],
                Tensors.ofLongs(be, new long[] {1, 0, 1}, 3), -100, F.Reduction.SUM)));
        c.add(new OpCase("cross_entropy_none", s(d(3, 6)), ANY, (be, in) -> F.crossEntropy(in[0],
                Tensors.ofLongs(be, new long[] {5, 2, 7}, 3), 7, F.Reduction.NONE)));
        // hidden [rows, d] and weight [vocab, d]; chunks of 3 rows: the last one partial, the middle one all ignored
        c.add(new OpCase("linear_cross_entropy_sum", s(d(7, 5), d(37, 5)), ANY, (be, in) -> F.linearCrossEntropy(in[0], in[1],
                Tensors.ofLongs(be, new long[] {36, 0, -100, -100, -100, -100, 17}, 7), -100, F.Reduction.SUM, 3)));
        c.add(new OpCase("linear_cross_entropy_mean", s(d(4, 6), d(9, 6)), ANY, (be, in) -> F.linearCrossEntropy(in[0], in[1],
                Tensors.ofLongs(be, new long[] {8, -100, 3, 3}, 4), -100, F.Reduction.MEAN)));
        c.add(new OpCase("dropout", s(d(6, 5)), ANY, (be, in) -> F.dropout(in[0], 0.3, 1234, true)));
        c.add(new OpCase("to_f32_and_back", s(d(3, 3)), ANY, (be, in) -> Ops.to(Ops.mulScalar(Ops.to(in[0], ai.attune.api.tensor.DType.F64), 2.0), in[0].dtype())));
        attention(c);
        return c;
    }

    /**
     * Ops that are piecewise constant, so finite differences say nothing about them (a cast to bf16
     * rounds): compared with the reference backend, forward and backward, but not gradient-checked.
     */
    public static List<OpCase> nonSmoothCases() {
        return List.of(new OpCase("to_bf16_and_back", s(d(3, 50)), ANY,
                (be, in) -> Ops.to(Ops.mulScalar(Ops.to(in[0], ai.attune.api.tensor.DType.BF16), 2.0), in[0].dtype())));
    }

    private static void attention(List<OpCase> c) {
        c.add(new OpCase("attention", s(d(1, 2, 5, 4), d(1, 2, 5, 4), d(1, 2, 5, 4)), ANY,
                (be, in) -> F.attention(in[0], in[1], in[2], null, false, Double.NaN)));
        c.add(new OpCase("attention_causal_gqa", s(d(2, 4, 3, 3), d(2, 2, 3, 3), d(2, 2, 3, 3)), ANY,
                (be, in) -> F.attention(in[0], in[1], in[2], null, true, Double.NaN)));
        c.add(new OpCase("attention_causal_offset_mask", s(d(2, 2, 2, 4), d(2, 1, 5, 4), d(2, 1, 5, 4)), ANY,
                (be, in) -> F.attention(in[0], in[1], in[2],
                        Tensors.ofLongs(be, new long[] {1, 1, 1, 1, 1, 0, 1, 1, 0, 1}, 2, 5), true, 0.7)));
    }

    /**
     * {@code x @ op(W)} with W a fixed [rows, cols] 4-bit matrix in blocks of 128 (made anew for each
     * product, as a quantized weight's product does), into x's dtype.
     */
    private static Tensor fourBit(Backend be, Tensor x, boolean transB, int rows, int cols) {
        Random r = new Random(5);
        int n = rows * cols;
        double[] codes = r.ints((n + 1) / 2, 0, 256).asDoubleStream().toArray();
        double[] absmax = r.doubles((n + 127) / 128, 0.1, 1).toArray();
        float[] table = new float[16];
        for (int i = 0; i < 16; i++) {
            table[i] = (i - 7) / 8f;
        }
        Blockwise4Bit w = new Blockwise4Bit(Tensors.of(be, DType.U8, codes, codes.length), table,
                Tensors.of(be, DType.F32, absmax, absmax.length), 128, rows, cols);
        Tensor out = be.empty(x.dtype(), new int[] {x.size(0), transB ? rows : cols}, Scope.current());
        be.matmul(x, false, w, transB, out);
        return out;
    }

    /** Runs a case's forward in a scope and returns the values (for conformance). */
    static double[] forward(ai.attune.api.tensor.Backend be, OpCase c, double[][] x, ai.attune.api.tensor.DType dtype) {
        try (Scope s = Scope.open("forward")) {
            Tensor[] in = new Tensor[x.length];
            for (int i = 0; i < x.length; i++) {
                in[i] = Tensors.of(be, dtype, x[i], c.shapes()[i]);
            }
            return Tensors.toDoubles(c.fn().apply(be, in));
        }
    }
}
