package ai.attune.plugins.quant.bnb4;

import ai.attune.api.autograd.Autograd;
import ai.attune.api.autograd.Ops;
import ai.attune.api.nn.Linear;
import ai.attune.api.spi.QuantizedTensor;
import ai.attune.api.spi.QuantizedWeight;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;
import ai.attune.kernels.jvm.JvmBackend;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A Linear whose base weight is a 4-bit source computes what a dense Linear holding the
 * dequantized weight computes, forward and backward, with the weight made dense per product only.
 */
class QuantizedLinearTest {
    private final JvmBackend be = new JvmBackend();

    private static float[] random(Random r, int n, double scale) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) (r.nextGaussian() * scale);
        }
        return x;
    }

    @Test
    void forwardAndBackwardEqualTheDequantizedDenseLinear() {
        Random r = new Random(7);
        int in = 96;
        int out = 40;
        try (Scope s = Scope.open()) {
            Tensor w = Tensors.of(be, random(r, out * in, 0.05), out, in);
            Nf4Quantizer nf4 = new Nf4Quantizer();
            QuantizedTensor q = nf4.quantize(w, new Bnb4Config(64, true), s);

            Linear dense = new Linear(be, DType.F32, s, in, out, true);
            be.copy(nf4.dequantize(q, s), dense.weight().value());
            Linear quantized = new Linear(be, DType.F32, s, in, out, true);
            Tensor bias = Tensors.of(be, random(r, out, 0.1), out);
            be.copy(bias, dense.bias().value());
            be.copy(bias, quantized.bias().value());
            quantized.setWeightSource(new QuantizedWeight(q, nf4));

            assertFalse(quantized.namedParameters().containsKey("weight"), "the base weight left the parameters");
            assertEquals(in, quantized.inFeatures());
            assertEquals(out, quantized.outFeatures());
            assertFalse(quantized.weight().trainable());

            float[] xs = random(r, 2 * 3 * in, 1);
            float[] upstream = random(r, 2 * 3 * out, 1);
            float[][] a = run(dense, xs, upstream, in, out);
            float[][] b = run(quantized, xs, upstream, in, out);
            assertArrayEquals(a[0], b[0], "forward");
            assertArrayEquals(a[1], b[1], "grad of the input");
            assertArrayEquals(a[2], b[2], "grad of the bias");
            assertNull(quantized.weight().grad(), "the 4-bit weight gets no gradient");
        }
    }

    /** y, x.grad and bias.grad of sum(layer(x) * upstream) for x [2, 3, in]. */
    private float[][] run(Linear layer, float[] xs, float[] upstream, int in, int out) {
        Tensor x = Tensors.of(be, xs, 2, 3, in).requiresGrad(true);
        Tensor y = layer.forward(x);
        float[] ys = Tensors.toFloats(y);
        Autograd.backward(Ops.sum(Ops.mul(y, Tensors.of(be, upstream, 2, 3, out))));
        return new float[][] {ys, Tensors.toFloats(x.grad()), Tensors.toFloats(layer.bias().grad())};
    }

    @Test
    void theSourceIsAskedOncePerProduct() {
        Random r = new Random(8);
        try (Scope s = Scope.open()) {
            Nf4Quantizer nf4 = new Nf4Quantizer();
            QuantizedTensor q = nf4.quantize(Tensors.of(be, random(r, 32 * 64, 0.05), 32, 64), Bnb4Config.DEFAULTS, s);
            int[] calls = {0};
            Tensor[] last = new Tensor[1];
            Linear layer = new Linear(be, DType.F32, s, 64, 32, false);
            layer.setWeightSource(new ai.attune.api.nn.WeightSource() {
                @Override
                public int[] shape() {
                    return q.shape();
                }

                @Override
                public Tensor materialize(DType dtype) {
                    calls[0]++;
                    last[0] = nf4.dequantize(q, Scope.current());
                    return last[0];
                }

                @Override
                public long storedBytes() {
                    return q.storedBytes();
                }
            });
            Tensor x = Tensors.of(be, random(r, 5 * 64, 1), 5, 64).requiresGrad(true);
            Tensor y = layer.forward(x);
            assertEquals(1, calls[0], "forward dequantizes once");
            Autograd.backward(Ops.sum(y));
            assertEquals(2, calls[0], "backward dequantizes again rather than keep the dense weight");
            assertTrue(x.grad() != null);
        }
    }
}
