package ai.attune.api.tensor;

/**
 * The scalars of one {@link Backend#adamwStep}: {@code torch.optim.AdamW}'s hyperparameters for
 * one parameter at its own step count {@code t}, which is 1 on the parameter's first update.
 * Whether AMSGrad runs is said by the step's {@code maxExpAvgSq} tensor, not here.
 *
 * <p>The derived scalars are computed in double, as torch computes them in Python floats; a
 * kernel on f32, bf16 or f16 tensors rounds each to f32 where torch's ops take it, as torch
 * converts a Python float to the kernel's f32 math type.
 *
 * @param lr          learning rate of this step
 * @param beta1       decay rate of the first moment average
 * @param beta2       decay rate of the second moment average
 * @param eps         added to {@code sqrt(v) / sqrt(1 - beta2^t)}
 * @param weightDecay decoupled decay: {@code p *= 1 - lr * weight_decay} before the Adam update
 * @param maximize    ascend the objective: the gradient's sign is flipped
 * @param step        the parameter's step count t, from 1
 */
public record AdamWStep(double lr, double beta1, double beta2, double eps, double weightDecay, boolean maximize, long step) {
    public AdamWStep {
        if (step < 1) {
            throw new IllegalArgumentException("AdamW step count must be >= 1 (the parameter's first update is step 1), got " + step);
        }
    }

    /** {@code 1 - beta1^t}: the first moment starts at 0 and is biased towards it by this factor. */
    public double biasCorrection1() {
        return 1 - Math.pow(beta1, step);
    }

    /** {@code 1 - beta2^t}. */
    public double biasCorrection2() {
        return 1 - Math.pow(beta2, step);
    }

    /** {@code lr / (1 - beta1^t)}: the step size torch's single-tensor path scales the update by. */
    public double stepSize() {
        return lr / biasCorrection1();
    }

    /** {@code sqrt(1 - beta2^t)}, which torch divides {@code sqrt(v)} by. */
    public double biasCorrection2Sqrt() {
        return Math.sqrt(biasCorrection2());
    }
}
