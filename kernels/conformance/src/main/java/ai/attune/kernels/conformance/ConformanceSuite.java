package ai.attune.kernels.conformance;

import ai.attune.api.autograd.Autograd;
import ai.attune.api.autograd.Ops;
import ai.attune.api.tensor.AdamWStep;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;

/**
 * Every op of {@link OpCatalog}, forward and backward, on the backend under test against the
 * reference backend (the jvm backend's scalar path), in f32 and bf16. Tolerances are relative to
 * the magnitude of the reference values: f32 1e-5, bf16 2e-2 (8 bits of mantissa, plus inputs
 * rounded to bf16 on both sides identically).
 */
public abstract class ConformanceSuite {
    protected abstract Backend backend();

    protected abstract Backend reference();

    @TestFactory
    Stream<DynamicTest> f32MatchesReference() {
        return cases(DType.F32, 1e-5);
    }

    @TestFactory
    Stream<DynamicTest> bf16MatchesReference() {
        return cases(DType.BF16, 2e-2);
    }

    private Stream<DynamicTest> cases(DType dtype, double tol) {
        Backend be = backend();
        Backend ref = reference();
        return java.util.stream.Stream.concat(OpCatalog.cases().stream(), OpCatalog.nonSmoothCases().stream())
                .filter(c -> dtype == DType.F32 || !c.name().startsWith("pow"))
                .map(c -> DynamicTest.dynamicTest(c + " " + dtype, () -> {
                    double[][] x = c.inputs(7);
                    Result want = run(ref, c, x, dtype);
                    Result got = run(be, c, x, dtype);
                    compare(c + " forward", want.out, got.out, tol);
                    for (int i = 0; i < x.length; i++) {
                        compare(c + " grad of input " + i, want.grads[i], got.grads[i], tol);
                    }
                }));
    }

    /**
     * {@link Backend#adamwStep} over three steps with a changing learning rate and gradients of
     * changing scale, plain, with amsgrad and maximize, and with beta1 < 0.5 (lerp's other branch):
     * the parameter and every moment after each step, in f32 and bf16. Shapes: one element, wider
     * than a vector register with a tail, and more than one parallel chunk of a fused kernel.
     */
    @TestFactory
    Stream<DynamicTest> adamwStepMatchesReference() {
        Backend be = backend();
        Backend ref = reference();
        List<DynamicTest> tests = new ArrayList<>();
        for (DType dtype : new DType[] {DType.F32, DType.BF16}) {
            double tol = dtype == DType.F32 ? 1e-5 : 2e-2;
            for (int[] shape : new int[][] {{1}, {5, 37}, {3, 5477}}) {
                for (int variant = 0; variant < 3; variant++) {
                    boolean amsgrad = variant == 1;
                    AdamWStep[] steps = new AdamWStep[3];
                    for (int t = 1; t <= steps.length; t++) {
                        double lr = 1e-2 / t;
                        steps[t - 1] = switch (variant) {
                            case 0 -> new AdamWStep(lr, 0.9, 0.999, 1e-8, 0.01, false, t);
                            case 1 -> new AdamWStep(lr, 0.8, 0.95, 1e-6, 0.1, true, t);
                            default -> new AdamWStep(lr, 0.3, 0.9, 1e-8, 0, false, t);
                        };
                    }
                    String name = "adamw_step " + Arrays.toString(shape) + " " + VARIANTS[variant] + " " + dtype;
                    tests.add(DynamicTest.dynamicTest(name, () -> {
                        List<double[]> want = adamw(ref, steps, amsgrad, shape, dtype);
                        List<double[]> got = adamw(be, steps, amsgrad, shape, dtype);
                        String[] what = {"param", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"};
                        for (int i = 0; i < want.size(); i++) {
                            compare(name + " step " + (i / 4 + 1) + " " + what[i % 4], want.get(i), got.get(i), tol);
                        }
                    }));
                }
            }
        }
        return tests.stream();
    }

    private static final String[] VARIANTS = {"defaults", "amsgrad maximize", "beta1 0.3 no decay"};

    /** The parameter, exp_avg, exp_avg_sq and max_exp_avg_sq (zeros without amsgrad) after each step. */
    private static List<double[]> adamw(Backend be, AdamWStep[] steps, boolean amsgrad, int[] shape, DType dtype) {
        int n = 1;
        for (int d : shape) {
            n *= d;
        }
        Random r = new Random(n * 31L + steps[0].hashCode());
        List<double[]> out = new ArrayList<>();
        try (Scope s = Scope.open("adamw conformance")) {
            Tensor p = Tensors.of(be, dtype, r.doubles(n, -1, 1).toArray(), shape);
            Tensor m = be.zeros(dtype, shape, s);
            Tensor v = be.zeros(dtype, shape, s);
            Tensor vmax = be.zeros(dtype, shape, s);
            for (int t = 0; t < steps.length; t++) {
                double scale = t % 2 == 0 ? 1 : 0.05; // the second moment rises and falls, so amsgrad's max matters
                Tensor g = Tensors.of(be, dtype, r.doubles(n, -scale, scale).toArray(), shape);
                be.adamwStep(steps[t], p, g, m, v, amsgrad ? vmax : null);
                for (Tensor x : new Tensor[] {p, m, v, vmax}) {
                    out.add(Tensors.toDoubles(x));
                }
            }
        }
        return out;
    }

    private record Result(double[] out, double[][] grads) {}

    private static Result run(Backend be, OpCase c, double[][] x, DType dtype) {
        try (Scope s = Scope.open("conformance")) {
            Tensor[] in = new Tensor[x.length];
            for (int i = 0; i < x.length; i++) {
                in[i] = Tensors.of(be, dtype, x[i], c.shapes()[i]).requiresGrad(true);
            }
            Tensor out = c.fn().apply(be, in);
            double[] values = Tensors.toDoubles(out); // read before backward, which gives the output's memory back
            double[] r = new Random(99).doubles(out.numel()).map(v -> v * 2 - 1).toArray();
            if (out.numel() > 0) {
                Autograd.backward(Ops.sum(Ops.mul(out, Tensors.of(be, out.dtype(), r, out.shape()))));
            }
            double[][] grads = new double[x.length][];
            for (int i = 0; i < x.length; i++) {
                grads[i] = in[i].grad() == null ? new double[x[i].length] : Tensors.toDoubles(in[i].grad());
            }
            return new Result(values, grads);
        }
    }

    private static void compare(String what, double[] want, double[] got, double tol) {
        if (want.length != got.length) {
            throw new AssertionError(what + ": " + got.length + " values, reference has " + want.length);
        }
        double scale = 0;
        for (double v : want) {
            scale = Math.max(scale, Math.abs(v));
        }
        for (int i = 0; i < want.length; i++) {
            double err = Math.abs(want[i] - got[i]);
            boolean bothNaN = Double.isNaN(want[i]) && Double.isNaN(got[i]);
            if (!bothNaN && !(err <= tol * Math.max(scale, 1e-3))) {
                throw new AssertionError(what + "[" + i + "]: " + got[i] + " vs reference " + want[i]);
            }
        }
    }
}
