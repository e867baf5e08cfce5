package ai.attune.kernels.jvm;

import ai.attune.api.tensor.BinaryOp;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.ScalarOp;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Random;

import static ai.attune.kernels.jvm.KernelTests.BE;
import static ai.attune.kernels.jvm.KernelTests.POOL;
import static ai.attune.kernels.jvm.KernelTests.floats;
import static ai.attune.kernels.jvm.KernelTests.uniform;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The pool-parallel f32 binary and scalar ops bit for bit equal to the scalar reference
 * ({@link Elementwise}, in double, rounded once to f32, which is what one f32 operation gives), on
 * one thread and on four: same-shape operands over several chunks with a partial last one, and a
 * row vector broadcast over rows that do not divide into the parallel units.
 */
class FastElementwiseTest {
    /** {1, 1}, a tail inside one vector, one chunk and a bit, several chunks of BERT-like rows, rows wider than a chunk. */
    private static final int[][] SHAPES = {{1, 1}, {3, 7}, {129, 129}, {37, 1536}, {5, 40000}};

    @Test
    void binaryOpsEqualTheReferenceForAnyThreadCount() {
        for (BinaryOp op : new BinaryOp[] {BinaryOp.ADD, BinaryOp.SUB, BinaryOp.MUL, BinaryOp.DIV}) {
            for (int[] shape : SHAPES) {
                for (String broadcast : new String[] {"same shape", "a row vector", "a [1, cols] row", "one scalar per row"}) {
                    try (Scope s = Scope.open("test")) {
                        Random r = new Random(shape[0] * 31L + shape[1]);
                        Tensor a = uniform(r, 3, shape);
                        Tensor b = switch (broadcast) {
                            case "a row vector" -> uniform(r, 3, shape[1]);
                            case "a [1, cols] row" -> uniform(r, 3, 1, shape[1]);
                            case "one scalar per row" -> uniform(r, 3, shape[0], 1);
                            default -> uniform(r, 3, shape);
                        };
                        Tensor ref = BE.empty(DType.F32, shape, s), one = BE.empty(DType.F32, shape, s), many = BE.empty(DType.F32, shape, s);
                        Elementwise.binary(op, a, b, ref);
                        assertTrue(FastElementwise.binary(op, a, b, one, null, 1));
                        assertTrue(FastElementwise.binary(op, a, b, many, POOL, 4));
                        String what = op + " " + shape[0] + "x" + shape[1] + " with " + broadcast;
                        assertArrayEquals(floats(ref), floats(one), what + ", 1 thread vs the reference");
                        assertArrayEquals(floats(one), floats(many), what + ", 1 vs 4 threads");
                    }
                }
            }
        }
    }

    /** BERT's position embeddings [t, hidden] added over the batch: b repeats every t x hidden elements of out. */
    @Test
    void aTrailingBlockBroadcastOverTheBatchEqualsTheReference() {
        for (int[] shape : new int[][] {{3, 5, 7}, {4, 37, 384}, {2, 1, 1}}) {
            try (Scope s = Scope.open("test")) {
                Random r = new Random(shape[1]);
                Tensor a = uniform(r, 3, shape);
                Tensor b = uniform(r, 3, shape[1], shape[2]);
                Tensor ref = BE.empty(DType.F32, shape, s), one = BE.empty(DType.F32, shape, s), many = BE.empty(DType.F32, shape, s);
                Elementwise.binary(BinaryOp.ADD, a, b, ref);
                assertTrue(FastElementwise.binary(BinaryOp.ADD, a, b, one, null, 1));
                assertTrue(FastElementwise.binary(BinaryOp.ADD, a, b, many, POOL, 4));
                assertArrayEquals(floats(ref), floats(one), Arrays.toString(shape));
                assertArrayEquals(floats(one), floats(many), Arrays.toString(shape) + ", 1 vs 4 threads");
            }
        }
        try (Scope s = Scope.open("test")) {
            Tensor col = uniform(new Random(3), 3, 2, 1);
            Tensor x = uniform(new Random(4), 3, 3, 2, 5);
            assertFalse(FastElementwise.binary(BinaryOp.ADD, x, col, BE.empty(DType.F32, new int[] {3, 2, 5}, s), null, 1),
                    "[2, 1] over [3, 2, 5] broadcasts in two places: the reference handles it");
        }
    }

    /** An exact float scalar, and ones that are not (dropout's 1 / 0.9), which run in double as the reference. */
    @Test
    void scalarOpsEqualTheReferenceForAnyThreadCount() {
        for (double k : new double[] {0.375, 1.0 / 0.9, 0.1, -1e-3}) {
            for (ScalarOp op : new ScalarOp[] {ScalarOp.ADD, ScalarOp.MUL, ScalarOp.RSUB}) {
                for (int[] shape : SHAPES) {
                    scalarOpEqualsTheReference(op, k, shape);
                }
            }
        }
    }

    private static void scalarOpEqualsTheReference(ScalarOp op, double k, int[] shape) {
        try (Scope s = Scope.open("test")) {
            Tensor a = uniform(new Random(shape[0] * 7L + shape[1]), 3, shape);
            Tensor ref = BE.empty(DType.F32, shape, s), one = BE.empty(DType.F32, shape, s), many = BE.empty(DType.F32, shape, s);
            Elementwise.scalar(op, a, k, ref);
            assertTrue(FastElementwise.scalar(op, a, k, one, null, 1));
            assertTrue(FastElementwise.scalar(op, a, k, many, POOL, 4));
            String what = op + " " + k + " " + shape[0] + "x" + shape[1];
            assertArrayEquals(floats(ref), floats(one), what + ", 1 thread vs the reference");
            assertArrayEquals(floats(one), floats(many), what + ", 1 vs 4 threads");
        }
    }
}
