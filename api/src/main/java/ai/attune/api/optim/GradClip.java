package ai.attune.api.optim;

import ai.attune.api.nn.Parameter;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.ReduceOp;
import ai.attune.api.tensor.ScalarOp;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;
import ai.attune.api.tensor.UnaryOp;

import java.util.List;

/**
 * Global gradient-norm clipping, as {@code torch.nn.utils.clip_grad_norm_(params, max_norm)}
 * with {@code norm_type=2}: the L2 norm is taken over all gradients together, as if they were one
 * vector, and every gradient is scaled by the same factor.
 */
public final class GradClip {
    /** torch's guard against dividing by a zero norm. */
    static final double EPS = 1e-6;

    /**
     * Elements squared and summed per pass: the f64 work buffer of this many elements (512 KiB)
     * stays in cache, and a huge gradient never needs a full f64 copy.
     */
    static final int CHUNK = 1 << 16;

    private GradClip() {}

    /**
     * The L2 norm of all gradients together, {@code sqrt(sum over params of sum(g^2))}, summed in
     * f64 whatever the gradients' dtype. Parameters without a gradient are skipped; with none at
     * all the norm is 0.
     */
    public static double gradNorm(List<Parameter> params) {
        double sumOfSquares = 0;
        for (Parameter p : params) {
            Tensor g = p.grad();
            if (g != null) {
                sumOfSquares += sumOfSquares(g);
            }
        }
        return Math.sqrt(sumOfSquares);
    }

    /**
     * Scales all gradients in place so that their global L2 norm is at most {@code maxNorm}, and
     * returns the norm they had before. The factor is {@code maxNorm / (norm + 1e-6)}, applied only
     * when below 1 (torch clamps it to 1 and always multiplies: the same result).
     *
     * <p>A non-finite norm (an inf or NaN gradient) is returned as is and the gradients are left
     * untouched, where torch would multiply them by NaN or 0: the caller sees the bad norm and
     * decides, e.g. to skip the step as a loss scaler does.
     */
    public static double clipGradNorm(List<Parameter> params, double maxNorm) {
        if (!(maxNorm >= 0) || Double.isInfinite(maxNorm)) {
            throw new IllegalArgumentException("max_grad_norm must be a finite number >= 0, got " + maxNorm);
        }
        double total = gradNorm(params);
        if (!Double.isFinite(total)) {
            return total;
        }
        double coef = maxNorm / (total + EPS);
        if (coef < 1.0) {
            for (Parameter p : params) {
                Tensor g = p.grad();
                if (g != null) {
                    scaleInPlace(p, g, coef);
                }
            }
        }
        return total;
    }

    private static void scaleInPlace(Parameter p, Tensor g, double coef) {
        if (!g.isContiguous()) {
            throw new IllegalArgumentException("the gradient of " + p.name() + " is a strided view; clipping scales gradients in place and needs them contiguous");
        }
        // torch holds the factor as a tensor of the norm's dtype, f32 for f32/bf16/f16 gradients.
        double k = g.dtype() == DType.F64 ? coef : (float) coef;
        g.backend().scalar(ScalarOp.MUL, g, k, g);
    }

    /** sum(g^2) in f64, by the gradient's backend (see {@link Backend#sumOfSquares}). */
    private static double sumOfSquares(Tensor g) {
        return g.backend().sumOfSquares(g);
    }

    /**
     * sum(g^2) in f64 from the elementwise kernels: each chunk is cast to f64 before squaring so
     * neither the squares nor the sum round to f32; the default of {@link Backend#sumOfSquares}.
     */
    public static double composedSumOfSquares(Tensor g) {
        Backend be = g.backend();
        long n = g.numel();
        if (n == 0) {
            return 0;
        }
        try (Scope tmp = Scope.open("grad-norm")) {
            Tensor sum = be.zeros(DType.F64, new int[] {1}, tmp);
            if (!g.isContiguous()) {
                Tensor whole = be.zeros(DType.F64, g.shape(), tmp);
                be.copy(g, whole);
                return squaredSum(be, whole.asStrided(new int[] {Math.toIntExact(n)}, new long[] {1}, 0), sum);
            }
            Tensor work = be.zeros(DType.F64, new int[] {(int) Math.min(n, CHUNK)}, tmp);
            double total = 0;
            for (long start = 0; start < n; start += CHUNK) {
                int len = (int) Math.min(CHUNK, n - start);
                Tensor part = g.asStrided(new int[] {len}, new long[] {1}, g.offset() + start); // [len]
                Tensor buf = work.asStrided(new int[] {len}, new long[] {1}, 0);
                be.copy(part, buf);
                total += squaredSum(be, buf, sum);
            }
            return total;
        }
    }

    /** Squares an f64 vector in place and sums it through {@code sum} [1]. */
    private static double squaredSum(Backend be, Tensor buf, Tensor sum) {
        be.unary(UnaryOp.SQUARE, buf, buf);
        be.reduce(ReduceOp.SUM, buf, new int[] {0}, sum);
        return Tensors.item(sum);
    }
}
