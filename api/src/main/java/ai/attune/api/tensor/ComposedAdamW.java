package ai.attune.api.tensor;

/**
 * {@link Backend#adamwStep}'s default: the update as a sequence of in-place elementwise kernels,
 * each a pass over memory that rounds to the parameter's dtype, as torch's single-tensor ops do
 * for bf16 and f16 parameters. Scalars are rounded to f32 for non-f64 parameters, as torch
 * converts a Python float to the kernel's f32 math type.
 *
 * <p>{@link ScalarOp} has no division, so {@code sqrt(v) / sqrt(bc2)} is computed as
 * {@code sqrt(v) * (1 / sqrt(bc2))} and {@code addcdiv}'s {@code (-step_size * m) / denom} as
 * {@code (m / denom) * -step_size}: each within an ulp or two of torch's order, which a fused
 * kernel can follow exactly.
 */
final class ComposedAdamW {
    private ComposedAdamW() {}

    static void step(Backend be, AdamWStep h, Tensor p, Tensor g, Tensor expAvg, Tensor expAvgSq, Tensor maxExpAvgSq) {
        DType dt = p.dtype();
        // Temporaries of the parameter's size; the block pool recycles them from one parameter to the next.
        try (Scope tmp = Scope.detached("adamw-step")) {
            if (h.maximize()) {
                Tensor neg = be.empty(dt, p.shape(), tmp);
                be.unary(UnaryOp.NEG, g, neg);
                g = neg;
            }
            // Decoupled decay: shrink the weights directly instead of adding wd * p to the gradient,
            // so the decay is not rescaled by the adaptive denominator.
            if (h.weightDecay() != 0) {
                be.scalar(ScalarOp.MUL, p, scalar(1 - h.lr() * h.weightDecay(), dt), p);
            }
            Tensor temp = be.empty(dt, p.shape(), tmp);
            lerpInPlace(be, expAvg, g, scalar(1 - h.beta1(), dt), temp, dt);

            // exp_avg_sq = beta2 * exp_avg_sq + ((1 - beta2) * g) * g, torch's mul_ then addcmul_
            be.scalar(ScalarOp.MUL, g, scalar(1 - h.beta2(), dt), temp);
            be.binary(BinaryOp.MUL, temp, g, temp);
            be.scalar(ScalarOp.MUL, expAvgSq, scalar(h.beta2(), dt), expAvgSq);
            be.binary(BinaryOp.ADD, expAvgSq, temp, expAvgSq);

            Tensor secondMoment = expAvgSq;
            if (maxExpAvgSq != null) {
                be.binary(BinaryOp.MAXIMUM, maxExpAvgSq, expAvgSq, maxExpAvgSq);
                secondMoment = maxExpAvgSq;
            }
            // denom = sqrt(v) / sqrt(bc2) + eps, by the reciprocal
            be.unary(UnaryOp.SQRT, secondMoment, temp);
            be.scalar(ScalarOp.MUL, temp, scalar(1 / h.biasCorrection2Sqrt(), dt), temp);
            be.scalar(ScalarOp.ADD, temp, scalar(h.eps(), dt), temp);
            // p += -step_size * exp_avg / denom (addcdiv_)
            be.binary(BinaryOp.DIV, expAvg, temp, temp);
            be.scalar(ScalarOp.MUL, temp, scalar(-h.stepSize(), dt), temp);
            be.binary(BinaryOp.ADD, p, temp, p);
        }
    }

    /**
     * {@code self.lerp_(end, w)} with the two-sided formula torch's kernel uses, which is exact at
     * both ends: {@code self + w * (end - self)} for w < 0.5, else {@code end - (end - self) * (1 - w)}.
     */
    private static void lerpInPlace(Backend be, Tensor self, Tensor end, double w, Tensor temp, DType dt) {
        be.binary(BinaryOp.SUB, end, self, temp);
        if (w < 0.5) {
            be.scalar(ScalarOp.MUL, temp, w, temp);
            be.binary(BinaryOp.ADD, self, temp, self);
        } else {
            be.scalar(ScalarOp.MUL, temp, scalar(1 - w, dt), temp);
            be.binary(BinaryOp.SUB, end, temp, self);
        }
    }

    /** A Python float as torch's kernels see it: f64 for f64 tensors, else f32 (the math type of f32, bf16 and f16). */
    private static double scalar(double value, DType dtype) {
        return dtype == DType.F64 ? value : (float) value;
    }
}
