package ai.attune.plugins.optim.adamw;

import ai.attune.api.nn.Parameter;
import ai.attune.api.optim.GradClip;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;
import ai.attune.kernels.jvm.JvmBackend;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link GradClip} (in the api, tested here where a backend is at hand) against norms worked by
 * hand, with torch.nn.utils.clip_grad_norm_'s factor max_norm / (norm + 1e-6).
 */
class GradClipTest {
    private final Backend be = new JvmBackend();

    private Parameter param(String name, float[] value, float[] grad) {
        Parameter p = new Parameter(name, Tensors.of(be, value, value.length), true);
        if (grad != null) {
            p.value().setGrad(Tensors.of(be, grad, grad.length));
        }
        return p;
    }

    @Test
    void normIsTakenOverAllGradientsTogether() {
        try (Scope s = Scope.open()) {
            // [3, 4] and [12]: sqrt(9 + 16 + 144) = sqrt(169) = 13; the gradient-less one is skipped
            List<Parameter> ps = List.of(
                    param("a", new float[2], new float[] {3, 4}),
                    param("b", new float[1], new float[] {12}),
                    param("frozen", new float[] {7}, null));
            assertEquals(13.0, GradClip.gradNorm(ps), 1e-12);
        }
    }

    @Test
    void clipScalesEveryGradientByOneFactor() {
        try (Scope s = Scope.open()) {
            Parameter a = param("a", new float[2], new float[] {3, 4});
            Parameter b = param("b", new float[1], new float[] {12});
            // factor = 6.5 / (13 + 1e-6) = 0.49999996...: grads become [1.5, 2] and [6] less 4e-8 relative
            double norm = GradClip.clipGradNorm(List.of(a, b), 6.5);
            assertEquals(13.0, norm, 1e-12, "the norm before clipping is returned");
            double k = 6.5 / (13 + 1e-6);
            assertArrayEquals(new double[] {3 * k, 4 * k}, Tensors.toDoubles(a.grad()), 1e-7);
            assertArrayEquals(new double[] {12 * k}, Tensors.toDoubles(b.grad()), 1e-6);
            assertEquals(6.5, GradClip.gradNorm(List.of(a, b)), 1e-6);
        }
    }

    @Test
    void gradientsUnderTheLimitAreLeftAsTheyAre() {
        try (Scope s = Scope.open()) {
            Parameter a = param("a", new float[2], new float[] {3, 4});
            // 13 < 20 -> factor 20 / 13.000001 > 1: no change (torch clamps the factor to 1)
            assertEquals(5.0, GradClip.clipGradNorm(List.of(a), 5.0 + 2e-6), 1e-12);
            assertArrayEquals(new float[] {3, 4}, Tensors.toFloats(a.grad()));
        }
    }

    @Test
    void noGradientsHaveNormZero() {
        try (Scope s = Scope.open()) {
            assertEquals(0.0, GradClip.clipGradNorm(List.of(param("w", new float[] {1}, null)), 1.0));
            assertEquals(0.0, GradClip.gradNorm(List.of()));
        }
    }

    @Test
    void nonFiniteNormIsReturnedAndGradientsKept() {
        try (Scope s = Scope.open()) {
            Parameter a = param("a", new float[2], new float[] {Float.POSITIVE_INFINITY, 1});
            Parameter b = param("b", new float[1], new float[] {2});
            assertEquals(Double.POSITIVE_INFINITY, GradClip.clipGradNorm(List.of(a, b), 1.0));
            assertArrayEquals(new float[] {2}, Tensors.toFloats(b.grad()), "the caller decides what to do with an inf norm");
            Parameter n = param("n", new float[1], new float[] {Float.NaN});
            assertTrue(Double.isNaN(GradClip.clipGradNorm(List.of(n, b), 1.0)));
            assertArrayEquals(new float[] {2}, Tensors.toFloats(b.grad()));
        }
    }

    @Test
    void longGradientIsSummedInChunksInDouble() {
        try (Scope s = Scope.open()) {
            // 3 chunks and a remainder, values j mod 7 - 3 in {-3..3}: the sum of squares is an
            // exact integer, which an f32 running sum of 200k terms would not keep.
            int n = 3 * (1 << 16) + 5;
            double[] g = new double[n];
            double expected = 0;
            for (int j = 0; j < n; j++) {
                g[j] = j % 7 - 3;
                expected += g[j] * g[j];
            }
            Parameter p = new Parameter("w", be.zeros(DType.F32, new int[] {n}, s), true);
            p.value().setGrad(Tensors.of(be, DType.F32, g, n));
            assertEquals(Math.sqrt(expected), GradClip.gradNorm(List.of(p)), 1e-9);
        }
    }

    @Test
    void stridedGradientHasTheSameNorm() {
        try (Scope s = Scope.open()) {
            // [[1, 2, 3], [4, 5, 6]] viewed transposed [3, 2]: sqrt(1 + 4 + 9 + 16 + 25 + 36) = sqrt(91)
            Tensor g = Tensors.of(be, new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
            Tensor t = g.asStrided(new int[] {3, 2}, new long[] {1, 3}, 0);
            Parameter p = new Parameter("w", be.zeros(DType.F32, new int[] {3, 2}, s), true);
            p.value().setGrad(t);
            assertEquals(Math.sqrt(91), GradClip.gradNorm(List.of(p)), 1e-12);
        }
    }

    @Test
    void negativeMaxNormIsRejected() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> GradClip.clipGradNorm(List.of(), -1));
        assertTrue(e.getMessage().contains("max_grad_norm"), e.getMessage());
    }
}
