package ai.attune.api.tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** Moves data between Java arrays and tensors of any backend, through little-endian bytes. */
public final class Tensors {
    private Tensors() {}

    /** A new tensor of {@code dtype} holding {@code data} (converted as PyTorch would from a double list). */
    public static Tensor of(Backend backend, DType dtype, double[] data, int... shape) {
        check(data.length, shape);
        Tensor out = backend.zeros(dtype, shape, Scope.current());
        try (Scope staging = Scope.detached("staging"); Arena arena = Arena.ofConfined()) {
            Tensor f64 = backend.zeros(DType.F64, shape, staging);
            MemorySegment seg = arena.allocate(ValueLayout.JAVA_DOUBLE, Math.max(data.length, 1));
            MemorySegment.copy(data, 0, seg, ValueLayout.JAVA_DOUBLE, 0, data.length);
            backend.copyFromBytes(seg, f64);
            backend.copy(f64, out);
            return out;
        }
    }

    /** An f32 tensor. */
    public static Tensor of(Backend backend, float[] data, int... shape) {
        double[] d = new double[data.length];
        for (int i = 0; i < d.length; i++) {
            d[i] = data[i];
        }
        return of(backend, DType.F32, d, shape);
    }

    /** An i64 tensor, e.g. token ids. */
    public static Tensor ofLongs(Backend backend, long[] data, int... shape) {
        check(data.length, shape);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(ValueLayout.JAVA_LONG, Math.max(data.length, 1));
            MemorySegment.copy(data, 0, seg, ValueLayout.JAVA_LONG, 0, data.length);
            Tensor out = backend.zeros(DType.I64, shape, Scope.current());
            backend.copyFromBytes(seg, out);
            return out;
        }
    }

    /** The elements in row-major order, as doubles. */
    public static double[] toDoubles(Tensor t) {
        int n = Math.toIntExact(t.numel());
        try (Scope staging = Scope.detached("staging"); Arena arena = Arena.ofConfined()) {
            Tensor f64 = t.backend().zeros(DType.F64, t.shape(), staging);
            t.backend().copy(t, f64);
            MemorySegment seg = arena.allocate(ValueLayout.JAVA_DOUBLE, Math.max(n, 1));
            t.backend().copyToBytes(f64, seg);
            double[] out = new double[n];
            MemorySegment.copy(seg, ValueLayout.JAVA_DOUBLE, 0, out, 0, n);
            return out;
        }
    }

    public static float[] toFloats(Tensor t) {
        double[] d = toDoubles(t);
        float[] f = new float[d.length];
        for (int i = 0; i < d.length; i++) {
            f[i] = (float) d[i];
        }
        return f;
    }

    public static long[] toLongs(Tensor t) {
        int n = Math.toIntExact(t.numel());
        try (Scope staging = Scope.detached("staging"); Arena arena = Arena.ofConfined()) {
            Tensor i64 = t.backend().zeros(DType.I64, t.shape(), staging);
            t.backend().copy(t, i64);
            MemorySegment seg = arena.allocate(ValueLayout.JAVA_LONG, Math.max(n, 1));
            t.backend().copyToBytes(i64, seg);
            long[] out = new long[n];
            MemorySegment.copy(seg, ValueLayout.JAVA_LONG, 0, out, 0, n);
            return out;
        }
    }

    /** The value of a one-element tensor. */
    public static double item(Tensor t) {
        if (t.numel() != 1) {
            throw new IllegalArgumentException("item() needs one element, " + t + " has " + t.numel());
        }
        return toDoubles(t)[0];
    }

    private static void check(int length, int[] shape) {
        if (Shape.numel(shape) != length) {
            throw new IllegalArgumentException(length + " values do not fill shape " + Shape.str(shape));
        }
    }
}
