package ai.attune.kernels.jvm.gemm;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Test operands laid out the way callers lay them out (offsets, padded leading dimensions,
 * transposes, 16-bit storage) and an independent oracle: a double-precision triple loop over the
 * same stored values, with its own 16-bit decoding.
 */
final class Fixture {

    /** Relative error allowed against sum |alpha a_ip b_pj| + |beta c_ij|: f32 rounding with margin. */
    static final double REL_TOL = 1e-5;

    /** Padding and unused elements hold NaN: reading one poisons the result, which the oracle catches. */
    static final float GARBAGE = Float.NaN;

    private Fixture() {
    }

    /**
     * A logical rows x cols matrix op(X) stored in {@code seg} at element {@code off} with leading
     * dimension {@code ld}, transposed in storage when {@code trans}.
     */
    record Matrix(MemorySegment seg, long off, int ld, ElementType type, boolean trans, int rows, int cols) {

        /** Logical element (r, c), decoded independently of the code under test. */
        double get(int r, int c) {
            long i = trans ? off + (long) c * ld + r : off + (long) r * ld + c;
            return switch (type) {
                case F32 -> seg.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i);
                case BF16 -> Float.intBitsToFloat((seg.getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i) & 0xFFFF) << 16);
                case F16 -> Float.float16ToFloat(seg.getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i));
            };
        }

        /** The same storage seen as a 0 x 0 matrix: a view that covers no element. */
        Matrix emptyView() {
            return new Matrix(seg, off, ld, type, trans, 0, 0);
        }

        float getF32(int r, int c) {
            return seg.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, off + (long) r * ld + c);
        }
    }

    /**
     * Allocates a logical rows x cols matrix with {@code pad} extra elements per stored row and
     * {@code off} elements before it, all of them garbage; the matrix itself holds values in
     * [-1, 1) (or garbage too when {@code fillGarbage}).
     */
    static Matrix matrix(Arena arena, SplittableRandom rnd, int rows, int cols, ElementType type, boolean trans,
                         int off, int pad, boolean fillGarbage) {
        return batch(arena, rnd, 1, rows, cols, type, trans, off, pad, 0, fillGarbage)[0];
    }

    /**
     * {@code count} matrices like {@link #matrix} one after another in a single segment, each
     * {@link #stride} elements after the previous one, with {@code gap} garbage elements between.
     * For count == 0 the result still holds one (unused) view, so there is a segment to pass.
     */
    static Matrix[] batch(Arena arena, SplittableRandom rnd, int count, int rows, int cols, ElementType type,
                          boolean trans, int off, int pad, int gap, boolean fillGarbage) {
        int storedRows = trans ? cols : rows;
        int storedCols = trans ? rows : cols;
        int ld = storedCols + pad;
        long stride = (long) storedRows * ld + gap;
        int views = Math.max(count, 1);
        long elements = off + views * stride + 3; // 3 trailing garbage elements
        MemorySegment seg = arena.allocate(elements * type.byteSize() + 1, 1).asSlice(1); // misaligned on purpose
        for (long i = 0; i < elements; i++) {
            put(seg, type, i, GARBAGE);
        }
        Matrix[] out = new Matrix[views];
        for (int t = 0; t < views; t++) {
            long base = off + t * stride;
            if (!fillGarbage) {
                for (int r = 0; r < storedRows; r++) {
                    for (int c = 0; c < storedCols; c++) {
                        put(seg, type, base + (long) r * ld + c, (float) (rnd.nextDouble() * 2 - 1));
                    }
                }
            }
            out[t] = new Matrix(seg, base, ld, type, trans, rows, cols);
        }
        return out;
    }

    /** Element distance between consecutive matrices of a {@link #batch}. */
    static long stride(Matrix[] batch) {
        return batch.length > 1 ? batch[1].off() - batch[0].off() : 0;
    }

    static void put(MemorySegment seg, ElementType type, long i, float v) {
        switch (type) {
            case F32 -> seg.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, v);
            case BF16 -> seg.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i, (short) (Float.floatToRawIntBits(v) >>> 16));
            case F16 -> seg.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i, Float.floatToFloat16(v));
        }
    }

    /** A copy of C's full segment, to check later that nothing outside the m x n view changed. */
    static float[] snapshot(Matrix c) {
        return c.seg().toArray(ValueLayout.JAVA_FLOAT_UNALIGNED);
    }

    /** The oracle's C: alpha * op(A) op(B) + beta * C0 in double, plus the error budget of each element. */
    record Expected(double[] value, double[] tolerance) {
    }

    static Expected expect(Matrix a, Matrix b, Matrix c0, float alpha, float beta) {
        int m = a.rows(), k = a.cols(), n = b.cols();
        double[] value = new double[m * n];
        double[] tol = new double[m * n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double sum = 0, abs = 0;
                for (int p = 0; p < k; p++) {
                    double prod = a.get(i, p) * b.get(p, j);
                    sum += prod;
                    abs += Math.abs(prod);
                }
                double old = beta == 0f ? 0 : (double) beta * c0.getF32(i, j);
                value[i * n + j] = alpha * sum + old;
                tol[i * n + j] = REL_TOL * (Math.abs(alpha) * abs + Math.abs(old)) + 1e-30;
            }
        }
        return new Expected(value, tol);
    }

    /** Checks C against the oracle and that every element outside the m x n view is untouched. */
    static void check(String what, Expected expected, Matrix c, float[] before) {
        checkValues(what, expected, c);
        checkUntouched(what, before, c);
    }

    static void checkValues(String what, Expected expected, Matrix c) {
        int m = c.rows(), n = c.cols();
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                float got = c.getF32(i, j);
                double want = expected.value()[i * n + j];
                double err = Math.abs(got - want);
                if (!(err <= expected.tolerance()[i * n + j])) {
                    fail(what + ": C[" + i + "," + j + "] = " + got + ", expected " + want + " (err " + err
                            + ", allowed " + expected.tolerance()[i * n + j] + ")");
                }
            }
        }
    }

    /** Every element of the segment outside the given views still holds its {@code before} bits. */
    static void checkUntouched(String what, float[] before, Matrix... views) {
        float[] after = snapshot(views[0]);
        for (Matrix v : views) {
            for (int i = 0; i < v.rows(); i++) {
                for (int j = 0; j < v.cols(); j++) {
                    int at = (int) (v.off() + (long) i * v.ld() + j);
                    after[at] = before[at];
                }
            }
        }
        for (int x = 0; x < after.length; x++) {
            assertEquals(Float.floatToRawIntBits(before[x]), Float.floatToRawIntBits(after[x]),
                    what + ": element " + x + " outside C's view was written");
        }
    }
}
