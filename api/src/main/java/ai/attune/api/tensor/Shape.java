package ai.attune.api.tensor;

import java.util.Arrays;

/** Helpers for shapes and strides. Shapes are {@code int[]} (one dim fits an int), element counts are long. */
public final class Shape {
    private Shape() {}

    public static long numel(int[] shape) {
        long n = 1;
        for (int d : shape) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    /** Row-major (C order) strides in elements. */
    public static long[] contiguousStrides(int[] shape) {
        long[] s = new long[shape.length];
        long acc = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            s[i] = acc;
            acc *= Math.max(shape[i], 1);
        }
        return s;
    }

    /** The broadcast shape of two shapes, by NumPy/PyTorch rules (right-aligned; a 1 stretches). */
    public static int[] broadcast(int[] a, int[] b) {
        int rank = Math.max(a.length, b.length);
        int[] out = new int[rank];
        for (int i = 0; i < rank; i++) {
            int da = i < rank - a.length ? 1 : a[i - (rank - a.length)];
            int db = i < rank - b.length ? 1 : b[i - (rank - b.length)];
            if (da != db && da != 1 && db != 1) {
                throw new IllegalArgumentException("shapes " + str(a) + " and " + str(b) + " do not broadcast");
            }
            out[i] = da == 1 ? db : da;
        }
        return out;
    }

    /** Normalises a possibly negative dim against a rank, PyTorch style. */
    public static int dim(int dim, int rank) {
        int d = dim < 0 ? dim + rank : dim;
        if (d < 0 || d >= Math.max(rank, 1)) {
            throw new IllegalArgumentException("dim " + dim + " out of range for rank " + rank);
        }
        return d;
    }

    public static String str(int[] shape) {
        return Arrays.toString(shape);
    }

    /**
     * The shape of {@code op(a) @ op(b)} ({@code torch.matmul} on rank >= 2 operands; op transposes
     * the last two dims when its flag is set): the broadcast batch dims, then [m, n].
     */
    public static int[] matmul(int[] a, boolean transA, int[] b, boolean transB) {
        int ra = a.length;
        int rb = b.length;
        if (ra < 2 || rb < 2) {
            throw new IllegalArgumentException("matmul needs rank >= 2, got " + str(a) + " and " + str(b));
        }
        int m = transA ? a[ra - 1] : a[ra - 2];
        int k = transA ? a[ra - 2] : a[ra - 1];
        int kb = transB ? b[rb - 1] : b[rb - 2];
        int n = transB ? b[rb - 2] : b[rb - 1];
        if (k != kb) {
            throw new IllegalArgumentException("matmul: inner dims differ: " + str(a) + (transA ? "^T" : "") + " @ " + str(b) + (transB ? "^T" : ""));
        }
        int[] batch = broadcast(Arrays.copyOf(a, ra - 2), Arrays.copyOf(b, rb - 2));
        int[] out = Arrays.copyOf(batch, batch.length + 2);
        out[batch.length] = m;
        out[batch.length + 1] = n;
        return out;
    }
}
