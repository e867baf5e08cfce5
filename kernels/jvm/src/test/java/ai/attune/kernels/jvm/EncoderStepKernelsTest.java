package ai.attune.kernels.jvm;

import ai.attune.api.optim.GradClip;
import ai.attune.api.tensor.BinaryOp;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.ReduceOp;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static ai.attune.kernels.jvm.KernelTests.BE;
import static ai.attune.kernels.jvm.KernelTests.POOL;
import static ai.attune.kernels.jvm.KernelTests.uniform;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The pool-parallel paths an encoder's training step runs besides the GEMMs (dropout and its
 * byte-mask backward, fills, bias gradients' sums, the clipping norm) against the scalar
 * reference of {@link Elementwise}, {@link Reductions} and {@link Dropout}: bit for bit, with one
 * thread and with several, over shapes that do not divide into the parallel units or vectors.
 */
class EncoderStepKernelsTest {
    private static final int[][] SHAPES = {{1, 1}, {3, 7}, {37, 19}, {53, 301}, {5, 40000}, {2, 3, 5, 7}};

    @Test
    void aByteMaskMultipliesAsTheReferenceAndFillsToo() {
        for (int[] shape : SHAPES) {
            try (Scope s = Scope.open("test")) {
                Random r = new Random(shape[0]);
                Tensor a = uniform(r, 3, shape);
                double[] bits = new double[Math.toIntExact(a.numel())];
                for (int i = 0; i < bits.length; i++) {
                    bits[i] = r.nextInt(2);
                }
                Tensor mask = Tensors.of(BE, DType.U8, bits, shape);
                Tensor ref = BE.empty(DType.F32, shape, s), many = BE.empty(DType.F32, shape, s);
                Elementwise.binary(BinaryOp.MUL, a, mask, ref);
                assertTrue(FastElementwise.binary(BinaryOp.MUL, a, mask, many, POOL, 4));
                assertArrayEquals(Tensors.toDoubles(ref), Tensors.toDoubles(many));
                for (double v : new double[] {0.0, -0.0, 2.5}) {
                    Elementwise.fill(ref, v);
                    assertTrue(FastElementwise.fill(many, v, POOL, 4));
                    double[] want = Tensors.toDoubles(ref), got = Tensors.toDoubles(many);
                    for (int i = 0; i < bits.length; i++) {
                        assertEquals(Double.doubleToRawLongBits(want[i]), Double.doubleToRawLongBits(got[i]), "fill " + v);
                    }
                }
            }
        }
    }

    @Test
    void sumsAndMeansOverARunOfDimsAreTheReferenceBitForBit() {
        int[] shape = {3, 37, 5, 301};
        int[][] runs = {{0}, {0, 1}, {1}, {1, 2}, {2, 3}, {3}, {0, 1, 2, 3}, {-1}};
        for (ReduceOp op : new ReduceOp[] {ReduceOp.SUM, ReduceOp.MEAN}) {
            for (int[] dims : runs) {
                try (Scope s = Scope.open("test")) {
                    Tensor a = uniform(new Random(dims.length), 3, shape);
                    int[] kept = shape.clone();
                    for (int d : dims) {
                        kept[Math.floorMod(d, shape.length)] = 1;
                    }
                    Tensor ref = BE.empty(DType.F32, kept, s), one = BE.empty(DType.F32, kept, s), many = BE.empty(DType.F32, kept, s);
                    Reductions.reduce(op, a, dims, ref);
                    assertTrue(FastReductions.reduce(op, a, dims, one, null, 1));
                    assertTrue(FastReductions.reduce(op, a, dims, many, POOL, 4));
                    assertArrayEquals(Tensors.toDoubles(ref), Tensors.toDoubles(one), op + " " + java.util.Arrays.toString(dims));
                    assertArrayEquals(Tensors.toDoubles(ref), Tensors.toDoubles(many));
                }
            }
        }
        try (Scope s = Scope.open("test")) {
            Tensor a = uniform(new Random(1), 3, shape);
            assertEquals(false, FastReductions.reduce(ReduceOp.SUM, a, new int[] {0, 2}, BE.empty(DType.F32, new int[] {1, 37, 1, 301}, s), POOL, 4),
                    "dims that are not adjacent take the reference");
        }
    }

    @Test
    void theSumOfSquaresIsTheComposedOneWithinF64RoundingAndTheSameForAnyThreadCount() {
        for (int n : new int[] {1, 1000, FastReductions.SQUARES_CHUNK + 17, 5 * FastReductions.SQUARES_CHUNK}) {
            try (Scope s = Scope.open("test")) {
                Tensor g = uniform(new Random(n), 3, n);
                double want = GradClip.composedSumOfSquares(g);
                double one = FastReductions.sumOfSquares(g, null, 1);
                double many = FastReductions.sumOfSquares(g, POOL, 4);
                assertEquals(want, one, 1e-13 * want, "n " + n);
                assertEquals(Double.doubleToLongBits(one), Double.doubleToLongBits(many));
            }
        }
    }

    @Test
    void dropoutDrawsTheReferenceMaskAndValuesForAnyThreadCount() {
        for (int[] shape : SHAPES) {
            for (double p : new double[] {0.1, 0.5, 1.0}) {
                try (Scope s = Scope.open("test")) {
                    Tensor x = uniform(new Random(shape[0]), 3, shape);
                    Tensor ref = BE.empty(DType.F32, shape, s), many = BE.empty(DType.F32, shape, s);
                    Tensor refMask = BE.zeros(DType.U8, shape, s), manyMask = BE.zeros(DType.U8, shape, s);
                    Dropout.dropout(x, p, 1234, ref, refMask);
                    assertTrue(Dropout.dropoutF32(x, p, 1234, many, manyMask, POOL, 4));
                    assertArrayEquals(Tensors.toDoubles(ref), Tensors.toDoubles(many), "p " + p);
                    assertArrayEquals(Tensors.toDoubles(refMask), Tensors.toDoubles(manyMask));
                }
            }
        }
    }
}
