package ai.attune.plugins.quant.bnb4;

import ai.attune.api.autograd.Autograd;
import ai.attune.api.autograd.Ops;
import ai.attune.api.autograd.Views;
import ai.attune.api.io.SafetensorsReader;
import ai.attune.api.io.TensorInfo;
import ai.attune.api.nn.Linear;
import ai.attune.api.nn.LinearLayer;
import ai.attune.api.nn.Parameter;
import ai.attune.api.spi.QuantizedTensor;
import ai.attune.api.spi.QuantizedWeight;
import ai.attune.api.spi.Quantizer;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;
import ai.attune.kernels.jvm.JvmBackend;
import org.junit.jupiter.api.Test;

import java.io.IOException;
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

    /**
     * In f32 the product never calls {@code dequantize}: the codes are decoded inside the GEMM,
     * forward ({@code x W^T}) and backward ({@code g W}), and y and x.grad still equal the dense
     * dequantized Linear's bit for bit, for both codes, a nested absmax and an odd element count,
     * and for a fan-in-fan-out layer (W stored [in, out]: {@code x W} forward, {@code g W^T} backward).
     */
    @Test
    void theF32ProductDecodesInsideTheGemmAndKeepsTheGradient() {
        Random r = new Random(9);
        int in = 97;
        int out = 43;
        for (Bnb4Quantizer quantizer : new Bnb4Quantizer[] {new Nf4Quantizer(), new Fp4Quantizer()}) {
            for (boolean fanInFanOut : new boolean[] {false, true}) {
                try (Scope s = Scope.open()) {
                    int[] shape = fanInFanOut ? new int[] {in, out} : new int[] {out, in};
                    QuantizedTensor q = quantizer.quantize(Tensors.of(be, random(r, in * out, 0.05), shape), new Bnb4Config(64, true), s);
                    LinearLayer dense = fanInFanOut ? new FanInFanOut(be, s, in, out) : new Linear(be, DType.F32, s, in, out, true);
                    be.copy(quantizer.dequantize(q, s), dense.weight().value());
                    LinearLayer quantized = fanInFanOut ? new FanInFanOut(be, s, in, out) : new Linear(be, DType.F32, s, in, out, true);
                    Tensor bias = Tensors.of(be, random(r, out, 0.1), out);
                    be.copy(bias, dense.bias().value());
                    be.copy(bias, quantized.bias().value());
                    quantized.setWeightSource(new QuantizedWeight(q, new NoDequantize(quantizer)));

                    float[] xs = random(r, 2 * 3 * in, 1);
                    float[] upstream = random(r, 2 * 3 * out, 1);
                    float[][] a = run(dense, xs, upstream, in, out);
                    float[][] b = run(quantized, xs, upstream, in, out);
                    String what = quantizer.getClass().getSimpleName() + (fanInFanOut ? " fan-in-fan-out" : "");
                    assertArrayEquals(a[0], b[0], what + " forward");
                    assertArrayEquals(a[1], b[1], what + " grad of the input");
                    assertArrayEquals(a[2], b[2], what + " grad of the bias");
                }
            }
        }
    }

    /**
     * A bf16 layer multiplies the weight rounded to bf16, as {@code materialize} gives it: the
     * f32-only fused product is not taken, and the result equals the dense bf16 Linear's.
     */
    @Test
    void aSixteenBitLayerMultipliesTheRoundedWeight() {
        Random r = new Random(10);
        int in = 64;
        int out = 24;
        try (Scope s = Scope.open()) {
            Nf4Quantizer nf4 = new Nf4Quantizer();
            QuantizedTensor q = nf4.quantize(Tensors.of(be, random(r, out * in, 0.05), out, in), Bnb4Config.DEFAULTS, s);
            Linear dense = new Linear(be, DType.BF16, s, in, out, false);
            be.copy(nf4.dequantize(q, s), dense.weight().value());
            Linear quantized = new Linear(be, DType.BF16, s, in, out, false);
            quantized.setWeightSource(new QuantizedWeight(q, nf4));
            Tensor x = Tensors.of(be, DType.BF16, Tensors.toDoubles(Tensors.of(be, random(r, 6 * in, 1), 6, in)), 6, in);
            assertArrayEquals(Tensors.toFloats(dense.forward(x)), Tensors.toFloats(quantized.forward(x)));
        }
    }

    /** A 4-bit quantizer that refuses to dequantize, so a product that still works must have decoded inside the GEMM. */
    private record NoDequantize(Bnb4Quantizer q) implements Quantizer<Bnb4Config> {
        @Override
        public Tensor dequantize(QuantizedTensor t, Scope scope) {
            throw new AssertionError("the f32 product made the weight dense");
        }

        @Override
        public Tensor matmul(QuantizedTensor t, Tensor left, boolean transposeW) {
            return q.matmul(t, left, transposeW);
        }

        @Override
        public Class<Bnb4Config> configType() {
            return q.configType();
        }

        @Override
        public Bnb4Config defaultConfig() {
            return q.defaultConfig();
        }

        @Override
        public QuantizedTensor quantize(Tensor weight, Bnb4Config config, Scope scope) {
            return q.quantize(weight, config, scope);
        }

        @Override
        public Bnb4Config configOf(QuantizedTensor t) {
            return q.configOf(t);
        }

        @Override
        public boolean stores(SafetensorsReader checkpoint, String name) {
            return q.stores(checkpoint, name);
        }

        @Override
        public TensorInfo denseInfo(SafetensorsReader checkpoint, String name) throws IOException {
            return q.denseInfo(checkpoint, name);
        }

        @Override
        public QuantizedTensor read(SafetensorsReader checkpoint, String name, Backend backend, Scope scope) throws IOException {
            return q.read(checkpoint, name, backend, scope);
        }
    }

    /** GPT-2's Conv1D in miniature: weight [in, out], {@code y = x W + b}. */
    private static final class FanInFanOut extends LinearLayer {
        private final Parameter weight;
        private final Parameter bias;

        FanInFanOut(Backend be, Scope scope, int in, int out) {
            weight = register("weight", new Parameter("weight", be.zeros(DType.F32, new int[] {in, out}, scope), true));
            bias = register("bias", new Parameter("bias", be.zeros(DType.F32, new int[] {out}, scope), true));
        }

        @Override
        public Parameter weight() {
            return weight;
        }

        @Override
        public Parameter bias() {
            return bias;
        }

        @Override
        public boolean fanInFanOut() {
            return true;
        }

        @Override
        protected Tensor base(Tensor x) {
            Tensor x2 = Views.reshape(x, -1, inFeatures()); // [rows, in]
            Tensor y = Ops.add(Ops.matmul(x2, weight.value()), bias.value()); // [rows, out]
            int[] ys = x.shape();
            ys[ys.length - 1] = outFeatures();
            return Views.reshape(y, ys);
        }
    }

    /** y, x.grad and bias.grad of sum(layer(x) * upstream) for x [2, 3, in]. */
    private float[][] run(LinearLayer layer, float[] xs, float[] upstream, int in, int out) {
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
