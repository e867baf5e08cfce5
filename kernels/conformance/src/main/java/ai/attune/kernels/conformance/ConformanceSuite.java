package ai.attune.kernels.conformance;

import ai.attune.api.autograd.Autograd;
import ai.attune.api.autograd.Ops;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

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
