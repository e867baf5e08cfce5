package ai.attune.kernels.jvm;

import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.Blockwise4Bit;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.NativeStorage;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The jvm backend's 4-bit matmul: decoded inside the GEMM, equal to the product with the dequantized matrix. */
class FourBitMatmulTest {
    private static final float[] TABLE = {-1f, -0.7f, -0.5f, -0.4f, -0.3f, -0.2f, -0.1f, 0f, 0.08f, 0.16f, 0.25f, 0.34f, 0.44f, 0.56f, 0.72f, 1f};

    private final JvmBackend be = new JvmBackend();

    /** Host memory whose backend cannot be asked for anything: a default that dequantizes through it fails. */
    private record HostOnly(MemorySegment segment, Scope scope) implements NativeStorage {
        @Override
        public Backend backend() {
            throw new AssertionError("the 4-bit matrix was made dense");
        }
    }

    /** The parts of a random [rows, cols] 4-bit matrix in blocks of 64, on {@code be}. */
    private Blockwise4Bit random(Random r, int rows, int cols, Scope s) {
        long n = (long) rows * cols;
        double[] codes = r.ints((n + 1) / 2, 0, 256).asDoubleStream().toArray();
        double[] absmax = r.doubles((n + 63) / 64, 0.01, 1).toArray();
        return new Blockwise4Bit(Tensors.of(be, DType.U8, codes, codes.length), TABLE, Tensors.of(be, DType.F32, absmax, absmax.length), 64, rows, cols);
    }

    private static Tensor hostOnly(Tensor t, Scope s) {
        MemorySegment seg = ((NativeStorage) t.storage()).segment();
        return new Tensor(new HostOnly(seg, s), t.dtype(), t.shape());
    }

    @Test
    void decodesInsideTheGemmAndEqualsTheProductWithTheDequantizedMatrix() {
        Random r = new Random(3);
        try (Scope s = Scope.open()) {
            Blockwise4Bit w = random(r, 51, 71, s); // an odd element count: the last byte is half used
            Blockwise4Bit untouchable = new Blockwise4Bit(hostOnly(w.codes(), s), w.codeValues(), hostOnly(w.absmax(), s), 64, 51, 71);
            Tensor dense = w.dequantize(s); // [51, 71]
            for (boolean transB : new boolean[] {true, false}) {
                int k = transB ? 71 : 51;
                int n = transB ? 51 : 71;
                Tensor x = Tensors.of(be, DType.F32, r.doubles(9L * k, -1, 1).toArray(), 9, k);
                for (DType outType : new DType[] {DType.F32, DType.BF16}) {
                    Tensor want = be.empty(outType, new int[] {9, n}, s);
                    be.matmul(x, false, dense, transB, want);
                    Tensor got = be.empty(outType, new int[] {9, n}, s);
                    be.matmul(x, false, untouchable, transB, got);
                    assertArrayEquals(Tensors.toFloats(want), Tensors.toFloats(got), "transB " + transB + " into " + outType);
                }
            }
        }
    }

    /** What the GEMM does not take (an f64 product) goes through the default: the matrix dequantized for the call. */
    @Test
    void anF64ProductTakesTheDequantizingDefault() {
        Random r = new Random(4);
        try (Scope s = Scope.open()) {
            Blockwise4Bit w = random(r, 20, 33, s);
            Tensor x = Tensors.of(be, DType.F64, r.doubles(5 * 33, -1, 1).toArray(), 5, 33);
            Tensor want = be.empty(DType.F64, new int[] {5, 20}, s);
            be.matmul(x, false, w.dequantize(s), true, want);
            Tensor got = be.empty(DType.F64, new int[] {5, 20}, s);
            be.matmul(x, false, w, true, got);
            assertArrayEquals(Tensors.toDoubles(want), Tensors.toDoubles(got));
        }
    }

    @Test
    void partsThatDisagreeWithTheShapeAreRefused() {
        try (Scope s = Scope.open()) {
            Tensor codes = be.zeros(DType.U8, new int[] {10}, s);
            Tensor absmax = be.zeros(DType.F32, new int[] {1}, s);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new Blockwise4Bit(codes, TABLE, absmax, 64, 3, 7));
            assertTrue(e.getMessage().contains("11 contiguous U8"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> new Blockwise4Bit(codes, new float[8], absmax, 64, 4, 5));
        }
    }
}
