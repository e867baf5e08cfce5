package ai.attune.kernels.conformance;

import ai.attune.api.autograd.Autograd;
import ai.attune.api.autograd.GradMode;
import ai.attune.api.autograd.Ops;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;

import java.util.Random;

/**
 * Central finite differences in f64: for L = sum(f(x) * R) with a fixed random R, compares each
 * analytic dL/dx_j from the tape with (L(x + h e_j) - L(x - h e_j)) / 2h.
 */
public final class GradCheck {
    private GradCheck() {}

    /** The largest violation of {@code |analytic - numeric| <= atol + rtol * |numeric|}; throws AssertionError naming the first bad element. */
    public static void check(Backend be, OpCase c, long seed, double h, double atol, double rtol) {
        double[][] x = c.inputs(seed);
        try (Scope s = Scope.open("gradcheck")) {
            Tensor[] in = new Tensor[x.length];
            for (int i = 0; i < x.length; i++) {
                in[i] = Tensors.of(be, DType.F64, x[i], c.shapes()[i]).requiresGrad(true);
            }
            Tensor out = c.fn().apply(be, in);
            double[] r = new Random(seed * 31 + 7).doubles(out.numel()).map(v -> v * 2 - 1).toArray();
            Tensor weights = Tensors.of(be, out.dtype(), r, out.shape());
            if (out.numel() > 0) {
                Autograd.backward(Ops.sum(Ops.mul(out, weights)));
            }
            for (int i = 0; i < x.length; i++) {
                double[] analytic = in[i].grad() == null ? new double[x[i].length] : Tensors.toDoubles(in[i].grad());
                for (int j = 0; j < x[i].length; j++) {
                    double keep = x[i][j];
                    x[i][j] = keep + h;
                    double plus = loss(be, c, x, r);
                    x[i][j] = keep - h;
                    double minus = loss(be, c, x, r);
                    x[i][j] = keep;
                    double numeric = (plus - minus) / (2 * h);
                    double err = Math.abs(analytic[j] - numeric);
                    if (!(err <= atol + rtol * Math.abs(numeric))) {
                        throw new AssertionError(c + ": d/d input " + i + "[" + j + "] analytic " + analytic[j]
                                + " vs numeric " + numeric + " (error " + err + ")");
                    }
                }
            }
        }
    }

    private static double loss(Backend be, OpCase c, double[][] x, double[] r) {
        try (GradMode.Region ng = GradMode.noGrad(); Scope s = Scope.open("gradcheck-eval")) {
            Tensor[] in = new Tensor[x.length];
            for (int i = 0; i < x.length; i++) {
                in[i] = Tensors.of(be, DType.F64, x[i], c.shapes()[i]);
            }
            double[] out = Tensors.toDoubles(c.fn().apply(be, in));
            double l = 0;
            for (int j = 0; j < out.length; j++) {
                l += out[j] * r[j];
            }
            return l;
        }
    }
}
