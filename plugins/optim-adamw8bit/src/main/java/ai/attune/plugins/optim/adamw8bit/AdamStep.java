package ai.attune.plugins.optim.adamw8bit;

/**
 * The scalars of one parameter's step as bitsandbytes' kernels receive and derive them: every
 * hyperparameter a float32 kernel argument, the bias corrections computed in float32 from the
 * parameter's own step count.
 *
 * @param correction2 {@code sqrt(1 - beta2^t)}: the kernels fold the second bias correction into
 *                    the step size and into eps instead of dividing the second moment by it
 * @param stepSize    {@code -lr * correction2 / (1 - beta1^t)}, negative: it is added to the parameter
 */
record AdamStep(float beta1, float beta2, float eps, float lr, float weightDecay, float correction2, float stepSize) {

    static AdamStep of(AdamW8bitConfig c, double lr, long step) {
        float beta1 = (float) c.beta1();
        float beta2 = (float) c.beta2();
        float flr = (float) lr;
        // The 8-bit kernel uses __powf and __fdividef, the 32-bit one powf and '/': both are
        // computed exactly here, which is within the intrinsics' few-ulp error of either.
        float correction1 = 1f - (float) Math.pow(beta1, step);
        float correction2 = (float) Math.sqrt(1f - (float) Math.pow(beta2, step));
        return new AdamStep(beta1, beta2, (float) c.eps(), flr, (float) c.weightDecay(), correction2, -flr * correction2 / correction1);
    }
}
