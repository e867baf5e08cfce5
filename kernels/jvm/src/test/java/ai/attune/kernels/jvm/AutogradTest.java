package ai.attune.kernels.jvm;

import ai.attune.api.autograd.Autograd;
import ai.attune.api.autograd.Function;
import ai.attune.api.autograd.GradMode;
import ai.attune.api.autograd.Ops;
import ai.attune.api.nn.Module;
import ai.attune.api.nn.RMSNorm;
import ai.attune.api.nn.SwiGluMlp;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;

/** The tape's contract: custom Functions, no-grad regions, accumulation, non-scalar backward, HF names. */
class AutogradTest {
    private final JvmBackend be = new JvmBackend();

    /** x^3 with a hand-written backward 3x^2. */
    static final class Cube extends Function {
        @Override
        protected Tensor[] forward(Context ctx, Tensor... in) {
            ctx.saveForBackward(in[0]);
            return new Tensor[] {Ops.mul(in[0], Ops.mul(in[0], in[0]))};
        }

        @Override
        protected Tensor[] backward(Context ctx, Tensor... g) {
            Tensor x = ctx.saved(0);
            return new Tensor[] {Ops.mul(g[0], Ops.mulScalar(Ops.mul(x, x), 3.0))};
        }
    }

    @Test
    void customFunctionBackwardIsUsed() {
        try (Scope s = Scope.open()) {
            Tensor x = Tensors.of(be, DType.F64, new double[] {1, -2, 0.5}, 3).requiresGrad(true);
            Tensor y = new Cube().apply(x)[0];
            assertEquals("CubeBackward", y.gradFn().name());
            Autograd.backward(Ops.sum(y));
            assertArrayEquals(new double[] {3, 12, 0.75}, Tensors.toDoubles(x.grad()), 1e-12);
        }
    }

    /**
     * The leaf-gradient hook announces each leaf once, when no node left to run adds to its
     * gradient: the gradient read at that moment is the final one. a feeds two products (its
     * gradient is complete only after the second), b one, c the last sum.
     */
    @Test
    void eachLeafIsAnnouncedOnceWithItsFinalGradient() {
        try (Scope s = Scope.open()) {
            Tensor a = Tensors.of(be, DType.F64, new double[] {1, 2}, 2).requiresGrad(true);
            Tensor b = Tensors.of(be, DType.F64, new double[] {3, -1}, 2).requiresGrad(true);
            Tensor c = Tensors.of(be, DType.F64, new double[] {0.5, 4}, 2).requiresGrad(true);
            Tensor y = Ops.sum(Ops.add(Ops.mul(Ops.mul(a, b), a), c)); // sum(a^2 b + c)
            java.util.Map<Tensor, double[]> seen = new java.util.IdentityHashMap<>();
            try (var hook = Autograd.onLeafGradient(leaf -> {
                if (seen.put(leaf, Tensors.toDoubles(leaf.grad())) != null) {
                    throw new AssertionError("announced twice");
                }
            })) {
                Autograd.backward(y);
            }
            assertEquals(3, seen.size());
            assertArrayEquals(new double[] {6, -4}, seen.get(a), 1e-12); // 2ab
            assertArrayEquals(new double[] {1, 4}, seen.get(b), 1e-12); // a^2
            assertArrayEquals(new double[] {1, 1}, seen.get(c), 1e-12);
            for (Tensor t : List.of(a, b, c)) {
                assertArrayEquals(Tensors.toDoubles(t.grad()), seen.get(t), 0.0, "nothing added after the announcement");
            }
            seen.clear();
            Autograd.backward(Ops.sum(Ops.mul(a, a))); // outside the region: no hook
            assertEquals(0, seen.size());
        }
    }

    @Test
    void noGradRecordsNothing() {
        try (Scope s = Scope.open()) {
            Tensor x = Tensors.of(be, DType.F32, new double[] {1, 2}, 2).requiresGrad(true);
            try (GradMode.Region ignored = GradMode.noGrad()) {
                Tensor y = Ops.mul(x, x);
                assertFalse(y.requiresGrad());
                assertNull(y.gradFn());
            }
            assertEquals(true, Ops.mul(x, x).requiresGrad());
        }
    }

    @Test
    void gradientsAccumulateAcrossBackwardCallsAndReset() {
        try (Scope job = Scope.open("job")) {
            Tensor w = Tensors.of(be, DType.F64, new double[] {2, 3}, 2).requiresGrad(true);
            for (int i = 0; i < 2; i++) {
                try (Scope step = Scope.open("step")) {
                    Autograd.backward(Ops.sum(Ops.mul(w, w)));
                }
            }
            // d/dw sum(w^2) = 2w, twice; the grad lives in the job scope, past the step scopes.
            assertArrayEquals(new double[] {8, 12}, Tensors.toDoubles(w.grad()), 1e-12);
            Tensor first = w.grad();
            Autograd.zeroGrad(List.of(w));
            assertNull(w.grad());
            try (Scope step = Scope.open("step")) {
                Autograd.backward(Ops.sum(Ops.mul(w, w)));
            }
            // A cleared gradient's storage serves the next backward: the job's scope must not grow per step.
            org.junit.jupiter.api.Assertions.assertSame(first.storage(), w.grad().storage());
            assertArrayEquals(new double[] {4, 6}, Tensors.toDoubles(w.grad()), 1e-12);
        }
    }

    @Test
    void backwardOfNonScalarOutputTakesTheUpstreamGradient() {
        try (Scope s = Scope.open()) {
            Tensor x = Tensors.of(be, DType.F64, new double[] {1, 2, 3, 4}, 2, 2).requiresGrad(true);
            Tensor y = Ops.mulScalar(x, 5.0);
            Autograd.backward(y, Tensors.of(be, DType.F64, new double[] {1, 0, -1, 2}, 2, 2));
            assertArrayEquals(new double[] {5, 0, -5, 10}, Tensors.toDoubles(x.grad()), 1e-12);
        }
    }

    @Test
    void sharedSubexpressionsSumTheirGradients() {
        try (Scope s = Scope.open()) {
            Tensor x = Tensors.of(be, DType.F64, new double[] {3}, 1).requiresGrad(true);
            Tensor y = Ops.exp(x);
            // z = y * y + y: dz/dx = (2y + 1) * y
            Autograd.backward(Ops.sum(Ops.add(Ops.mul(y, y), y)));
            double e3 = Math.exp(3);
            assertEquals((2 * e3 + 1) * e3, Tensors.toDoubles(x.grad())[0], 1e-9);
        }
    }

    static final class Block extends Module {
        Block(JvmBackend be, Scope scope) {
            register("input_layernorm", new RMSNorm(be, DType.F32, scope, 4, 1e-6));
            register("mlp", new SwiGluMlp(be, DType.F32, scope, 4, 6));
        }
    }

    @Test
    void parameterWalkYieldsHuggingFaceDottedNames() {
        try (Scope s = Scope.open()) {
            Module root = new Module() { };
            Module layers = new Module() { };
            layers.addChild("0", new Block(be, s));
            root.addChild("layers", layers);
            assertEquals(List.of("layers.0.input_layernorm.weight", "layers.0.mlp.gate_proj.weight",
                    "layers.0.mlp.up_proj.weight", "layers.0.mlp.down_proj.weight"), List.copyOf(root.namedParameters().keySet()));
            assertArrayEquals(new int[] {6, 4}, root.namedParameters().get("layers.0.mlp.up_proj.weight").value().shape());
        }
    }
}
