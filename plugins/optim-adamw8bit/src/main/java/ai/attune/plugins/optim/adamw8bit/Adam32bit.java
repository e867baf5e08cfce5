package ai.attune.plugins.optim.adamw8bit;

/**
 * The update of a tensor smaller than {@code min_8bit_size}, whose state bitsandbytes keeps in
 * float32: its CUDA kernel {@code kOptimizer32bit2State<T, ADAM>} (csrc/kernels.cu) with
 * {@code gnorm_scale = 1}, no {@code max_unorm} and no {@code skip_zeros}, transcribed element by
 * element in float32:
 *
 * <pre>
 * m = m * beta1 + (1 - beta1) * g
 * v = v * beta2 + (1 - beta2) * (g * g)
 * p = p + step_size * (m / (sqrt(v) + eps * correction2))     # step_size = -lr * correction2 / correction1
 * p = p * (1 - lr * weight_decay)                             # when weight_decay > 0
 * </pre>
 *
 * Unlike the 8-bit kernel it has no test for non-finite gradients: a NaN reaches the moments and
 * the parameter, as there.
 */
final class Adam32bit {
    private Adam32bit() {}

    /** Updates {@code p[0, n)}, {@code m} (state1) and {@code v} (state2) in place from {@code g}; {@code t} is p's dtype. */
    static void update(float[] p, float[] g, float[] m, float[] v, int n, AdamStep h, FloatType t) {
        float oneMinusBeta1 = 1f - h.beta1();
        float oneMinusBeta2 = 1f - h.beta2();
        float epsHat = h.eps() * h.correction2();
        float decay = 1f - h.lr() * h.weightDecay();
        for (int i = 0; i < n; i++) {
            float gi = g[i];
            m[i] = m[i] * h.beta1() + oneMinusBeta1 * gi;
            v[i] = v[i] * h.beta2() + oneMinusBeta2 * (gi * gi);
            p[i] = t.round(p[i] + h.stepSize() * (m[i] / ((float) Math.sqrt(v[i]) + epsHat)));
            if (h.weightDecay() > 0f) {
                p[i] = t.round(p[i] * decay);
            }
        }
    }
}
