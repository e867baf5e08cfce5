package ai.attune.kernels.jvm;

import ai.attune.api.autograd.Autograd;
import ai.attune.api.autograd.Ops;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/**
 * A linear layer's fused product and bias ({@code Ops.addmm}: the bias added in the packed GEMM's
 * write-back) against the unfused {@code add(matmul(x, w^T), b)} on the same backend: the output
 * and all three gradients bit for bit, for shapes that take the packed GEMM (a BERT layer's
 * [tokens, 384] x [384, 1536]), one of a few rows (the unpacked path, bias added after) and a
 * bf16 bias (not fused).
 */
class AddmmTest {
    private static final JvmBackend BE = new JvmBackend();

    private static Tensor random(Random r, DType dtype, int... shape) {
        int n = 1;
        for (int d : shape) {
            n *= d;
        }
        return Tensors.of(BE, dtype, r.doubles(n, -1, 1).toArray(), shape).requiresGrad(true);
    }

    @Test
    void fusedBiasIsMatmulThenAddBitForBit() {
        int[][] shapes = {{130, 384, 1536}, {67, 1536, 384}, {3, 40, 24}, {200, 33, 7}};
        for (int[] s : shapes) {
            for (DType biasType : new DType[] {DType.F32, DType.BF16}) {
                check(s[0], s[1], s[2], biasType);
            }
        }
    }

    private static void check(int rows, int in, int out, DType biasType) {
        try (Scope scope = Scope.open("addmm")) {
            Random r = new Random(31L * rows + in);
            Tensor x = random(r, DType.F32, rows, in);
            Tensor w = random(r, DType.F32, out, in);
            Tensor b = random(r, biasType, out);
            Tensor g = Tensors.of(BE, DType.F32, r.doubles((long) rows * out, -1, 1).toArray(), rows, out);

            Tensor fused = Ops.addmm(b, x, false, w, true);
            Autograd.backward(fused, g);
            double[][] fusedGrads = {Tensors.toDoubles(x.grad()), Tensors.toDoubles(w.grad()), Tensors.toDoubles(b.grad())};
            x.clearGrad();
            w.clearGrad();
            b.clearGrad();

            Tensor separate = Ops.add(Ops.matmul(x, false, w, true), b);
            Autograd.backward(separate, g);
            String what = rows + "x" + in + "x" + out + " bias " + biasType;
            assertArrayEquals(Tensors.toDoubles(separate), Tensors.toDoubles(fused), what + ": output");
            assertArrayEquals(Tensors.toDoubles(x.grad()), fusedGrads[0], what + ": grad x");
            assertArrayEquals(Tensors.toDoubles(w.grad()), fusedGrads[1], what + ": grad w");
            assertArrayEquals(Tensors.toDoubles(b.grad()), fusedGrads[2], what + ": grad bias");
        }
    }
}
