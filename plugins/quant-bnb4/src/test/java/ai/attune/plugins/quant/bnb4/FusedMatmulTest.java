package ai.attune.plugins.quant.bnb4;

import ai.attune.api.spi.QuantizedTensor;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;
import ai.attune.kernels.jvm.JvmBackend;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The quantizer's product ({@link Bnb4Quantizer#matmul}), which the jvm backend runs with the codes
 * decoded inside its GEMM, against dequantise-then-GEMM: the dense weight from
 * {@link Bnb4Quantizer#dequantize} (itself checked bit for bit against the array transcription of
 * {@code dequantize_4bit}) multiplied by the scalar reference GEMM, within the f32 tolerance of the
 * GEMM tests; and bit for bit against the same GEMM over the dense weight, since packing hands the
 * micro-kernel the same floats either way.
 */
class FusedMatmulTest {
    /** Relative error against sum |x_ip w_pj|, as the GEMM tests allow for f32. */
    private static final double REL_TOL = 1e-5;

    private final JvmBackend simd = new JvmBackend(false);
    private final JvmBackend scalar = new JvmBackend(true);

    /**
     * Weights [out, in] whose sides are not multiples of the GEMM's tiles or of the blocksize,
     * some with an odd element count; x has more rows than the jvm backend's matrix-vector path takes.
     */
    static Stream<Arguments> cases() {
        int[][] shapes = {{5, 37, 29}, {7, 64, 65}, {33, 130, 77}, {9, 3, 1031}, {70, 200, 96}};
        List<Arguments> out = new ArrayList<>();
        for (int[] s : shapes) {
            for (QuantType type : QuantType.values()) {
                for (int blocksize : new int[] {64, 128}) {
                    for (boolean nested : new boolean[] {false, true}) {
                        out.add(Arguments.of(s[0], s[1], s[2], type, blocksize, nested));
                    }
                }
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "x [{0}, in] w [{1}, {2}] {3} blocksize {4} nested {5}")
    @MethodSource("cases")
    void fusedProductEqualsDequantizeThenGemm(int rows, int out, int in, QuantType type, int blocksize, boolean nested) {
        Bnb4Quantizer quantizer = type == QuantType.NF4 ? new Nf4Quantizer() : new Fp4Quantizer();
        Random r = new Random(31L * rows + out + in);
        try (Scope s = Scope.open()) {
            QuantizedTensor q = quantizer.quantize(Tensors.of(simd, gaussian(r, out * in), out, in), new Bnb4Config(blocksize, nested), s);
            Tensor dense = quantizer.dequantize(q, s); // [out, in]
            assertBitsEqual(reference(q, type, blocksize, nested), Tensors.toFloats(dense), "dequantize");
            for (boolean transposeW : new boolean[] {true, false}) {
                int k = transposeW ? in : out;
                int n = transposeW ? out : in;
                String what = type + " " + rows + "x" + k + " @ " + (transposeW ? "W^T" : "W") + " blocksize " + blocksize + " nested " + nested;
                float[] x = gaussian(r, rows * k);
                float[] want = Tensors.toFloats(product(scalar, Tensors.of(scalar, x, rows, k), dense, transposeW, n));
                float[] fused = Tensors.toFloats(quantizer.matmul(q, Tensors.of(simd, x, rows, k), transposeW));
                assertClose(want, fused, x, Tensors.toFloats(dense), rows, k, n, transposeW, what + " fused");
                float[] unfused = Tensors.toFloats(product(simd, Tensors.of(simd, x, rows, k), dense, transposeW, n));
                assertBitsEqual(unfused, fused, what + ": fused vs the same GEMM over the dequantized weight");
                float[] fusedScalar = Tensors.toFloats(quantizer.matmul(q, Tensors.of(scalar, x, rows, k), transposeW));
                assertBitsEqual(want, fusedScalar, what + ": the scalar path decoding vs the scalar GEMM over the dequantized weight");
            }
        }
    }

    private static Tensor product(Backend be, Tensor x, Tensor w, boolean transposeW, int n) {
        Tensor out = be.empty(DType.F32, new int[] {x.size(0), n}, Scope.current());
        be.matmul(x, false, w, transposeW, out);
        return out;
    }

    /** {@code dequantize_4bit} on arrays ({@link Blockwise#dequantize4}), with the nested absmax restored on arrays too. */
    private static float[] reference(QuantizedTensor q, QuantType type, int blocksize, boolean nested) {
        float[] absmax = nested
                ? new DoubleQuant(TensorBytes.bytes(q.state().get("absmax")), TensorBytes.floats(q.state().get("nested_absmax")),
                        TensorBytes.floats(q.state().get("nested_quant_map")),
                        QuantState.parse(TensorBytes.bytes(q.state().get(QuantState.key(type.id())))).nestedOffset()).absmax()
                : TensorBytes.floats(q.state().get("absmax"));
        float[] out = new float[Math.toIntExact(q.numel())];
        Blockwise.dequantize4(TensorBytes.bytes(q.data()), absmax, blocksize, type, out);
        return out;
    }

    private static float[] gaussian(Random r, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) (r.nextGaussian() * (1 + i % 3));
        }
        return x;
    }

    private static void assertBitsEqual(float[] want, float[] got, String what) {
        assertEquals(want.length, got.length, what);
        for (int i = 0; i < want.length; i++) {
            assertEquals(Float.floatToRawIntBits(want[i]), Float.floatToRawIntBits(got[i]), what + " at " + i + ": " + got[i] + " vs " + want[i]);
        }
    }

    /** Each element within REL_TOL of sum |x_ip w_pj| of the reference: f32 rounding in another order. */
    private static void assertClose(float[] want, float[] got, float[] x, float[] w, int rows, int k, int n, boolean transposeW, String what) {
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < n; j++) {
                double abs = 0;
                for (int p = 0; p < k; p++) {
                    abs += Math.abs((double) x[i * k + p] * (transposeW ? w[j * k + p] : w[p * n + j]));
                }
                double err = Math.abs(got[i * n + j] - want[i * n + j]);
                if (!(err <= REL_TOL * abs + 1e-30)) {
                    fail(what + ": [" + i + ", " + j + "] = " + got[i * n + j] + ", reference " + want[i * n + j] + " (allowed " + REL_TOL * abs + ")");
                }
            }
        }
    }
}
