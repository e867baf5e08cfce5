package ai.attune.kernels.jvm;

import ai.attune.api.tensor.BinaryOp;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.ScalarOp;
import ai.attune.api.tensor.Tensor;
import ai.attune.kernels.jvm.parallel.Parallel;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.concurrent.ExecutorService;

/**
 * Vector API paths for the elementwise cases that dominate a training step: contiguous f32
 * tensors of one shape (or a row vector broadcast over rows, as a bias), fills, and casts between
 * f32 and bf16. The f32 ones run over the backend's pool in fixed units. Each method returns false
 * for any other case, which then takes the scalar path of {@link Elementwise}, the reference these
 * are tested against.
 */
final class FastElementwise {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    private FastElementwise() {}

    private static boolean flatF32(Tensor t) {
        return t.dtype() == DType.F32 && t.isContiguous();
    }

    /** Elements per parallel unit: 64 KiB of f32, a multiple of every vector length. */
    static final int CHUNK = 16384;

    /**
     * a op b for f32 a and out of one shape, b of that shape (f32, or a u8 0/1 mask for MUL: the
     * dropout backward) or one row broadcast over out's rows (a bias, a norm weight); split over
     * the pool in fixed units, each element computed on its own, so any thread count gives the
     * same bits.
     */
    static boolean binary(BinaryOp op, Tensor a, Tensor b, Tensor out, ExecutorService pool, int workers) {
        if (!(op == BinaryOp.ADD || op == BinaryOp.SUB || op == BinaryOp.MUL || op == BinaryOp.DIV)
                || !flatF32(a) || !flatF32(out) || !b.isContiguous() || !Arrays.equals(a.shape(), out.shape())) {
            return false;
        }
        long n = out.numel();
        MemorySegment sa = Elementwise.seg(a), sb = Elementwise.seg(b), so = Elementwise.seg(out);
        long ao = a.offset() * 4, oo = out.offset() * 4;
        if (b.dtype() == DType.U8 && op == BinaryOp.MUL && Arrays.equals(b.shape(), out.shape())) {
            long bo = b.offset();
            Parallel.forEach(pool, workers, units(n, CHUNK), () -> null, x -> {}, (c, x) -> {
                long from = (long) c * CHUNK;
                maskLanes(sa, ao, sb, bo, so, oo, from, Math.min(n, from + CHUNK));
            });
            return true;
        }
        if (b.dtype() != DType.F32) {
            return false;
        }
        long bo = b.offset() * 4;
        if (Arrays.equals(b.shape(), out.shape())) {
            Parallel.forEach(pool, workers, units(n, CHUNK), () -> null, x -> {}, (c, x) -> {
                long from = (long) c * CHUNK;
                lanes(op, sa, ao + from * 4, sb, bo + from * 4, so, oo + from * 4, Math.min(n, from + CHUNK) - from);
            });
            return true;
        }
        int[] bs = b.shape();
        int[] os = out.shape();
        int row = os.length == 0 ? 1 : os[os.length - 1];
        boolean rowVector = bs.length >= 1 && bs[bs.length - 1] == row && b.numel() == row && row > 0;
        if (!rowVector) {
            return false;
        }
        // b is one row broadcast over out's rows: a bias, a norm weight.
        long rows = n / row;
        int rowsPerUnit = Math.max(1, CHUNK / row);
        Parallel.forEach(pool, workers, units(rows, rowsPerUnit), () -> null, x -> {}, (c, x) -> {
            long end = Math.min(rows, (long) (c + 1) * rowsPerUnit);
            for (long r = (long) c * rowsPerUnit; r < end; r++) {
                lanes(op, sa, ao + r * row * 4, sb, bo, so, oo + r * row * 4, row);
            }
        });
        return true;
    }

    static int units(long n, int per) {
        return Math.toIntExact((n + per - 1) / per);
    }

    /** out = a * mask over [from, to), the mask one byte (0 or 1) an element. */
    private static void maskLanes(MemorySegment sa, long ao, MemorySegment sm, long mo, MemorySegment so, long oo, long from, long to) {
        for (long i = from; i < to; i++) {
            float x = sa.get(Elements.F32, ao + i * 4);
            so.set(Elements.F32, oo + i * 4, sm.get(ValueLayout.JAVA_BYTE, mo + i) != 0 ? x * 1f : x * 0f);
        }
    }

    private static void lanes(BinaryOp op, MemorySegment sa, long ao, MemorySegment sb, long bo, MemorySegment so, long oo, long n) {
        long i = 0;
        long bound = n - n % F.length();
        for (; i < bound; i += F.length()) {
            FloatVector x = FloatVector.fromMemorySegment(F, sa, ao + i * 4, LE);
            FloatVector y = FloatVector.fromMemorySegment(F, sb, bo + i * 4, LE);
            FloatVector r = switch (op) {
                case ADD -> x.add(y);
                case SUB -> x.sub(y);
                case MUL -> x.mul(y);
                default -> x.div(y);
            };
            r.intoMemorySegment(so, oo + i * 4, LE);
        }
        for (; i < n; i++) {
            float x = sa.get(Elements.F32, ao + i * 4);
            float y = sb.get(Elements.F32, bo + i * 4);
            so.set(Elements.F32, oo + i * 4, (float) Elementwise.apply(op, x, y));
        }
    }

    static boolean scalar(ScalarOp op, Tensor a, double s, Tensor out, ExecutorService pool, int workers) {
        if (!(op == ScalarOp.ADD || op == ScalarOp.MUL || op == ScalarOp.RSUB) || !flatF32(a) || !flatF32(out)) {
            return false;
        }
        long n = out.numel();
        MemorySegment sa = Elementwise.seg(a), so = Elementwise.seg(out);
        long ao = a.offset() * 4, oo = out.offset() * 4;
        float k = (float) s;
        if ((double) k != s) {
            return false; // a scalar that is no exact float would round differently from the double path
        }
        Parallel.forEach(pool, workers, units(n, CHUNK), () -> null, x -> {}, (c, x) -> {
            long from = (long) c * CHUNK;
            scalarLanes(op, k, sa, ao, so, oo, from, Math.min(n, from + CHUNK));
        });
        return true;
    }

    private static void scalarLanes(ScalarOp op, float k, MemorySegment sa, long ao, MemorySegment so, long oo, long from, long to) {
        long i = from;
        long bound = from + (to - from) / F.length() * F.length();
        for (; i < bound; i += F.length()) {
            FloatVector x = FloatVector.fromMemorySegment(F, sa, ao + i * 4, LE);
            FloatVector r = switch (op) {
                case ADD -> x.add(k);
                case MUL -> x.mul(k);
                default -> x.neg().add(k);
            };
            r.intoMemorySegment(so, oo + i * 4, LE);
        }
        for (; i < to; i++) {
            float x = sa.get(Elements.F32, ao + i * 4);
            so.set(Elements.F32, oo + i * 4, switch (op) {
                case ADD -> x + k;
                case MUL -> x * k;
                default -> k - x;
            });
        }
    }

    /** Fills a contiguous f32 tensor over the pool: zeros as bytes, other values as vectors. */
    static boolean fill(Tensor dst, double value, ExecutorService pool, int workers) {
        float v = (float) value;
        if (!flatF32(dst) || (double) v != value && !Double.isNaN(value)) {
            return false;
        }
        long n = dst.numel();
        MemorySegment d = Elementwise.seg(dst);
        long o = dst.offset() * 4;
        boolean zero = Float.floatToRawIntBits(v) == 0;
        FloatVector lanes = FloatVector.broadcast(F, v);
        Parallel.forEach(pool, workers, units(n, CHUNK), () -> null, x -> {}, (c, x) -> {
            long from = (long) c * CHUNK;
            long to = Math.min(n, from + CHUNK);
            if (zero) {
                d.asSlice(o + from * 4, (to - from) * 4).fill((byte) 0);
                return;
            }
            long i = from;
            for (long bound = from + (to - from) / F.length() * F.length(); i < bound; i += F.length()) {
                lanes.intoMemorySegment(d, o + i * 4, LE);
            }
            for (; i < to; i++) {
                d.set(Elements.F32, o + i * 4, v);
            }
        });
        return true;
    }

    /** Contiguous f32 to bf16 (round to nearest even) and bf16 to f32, without the per-element dtype dispatch. */
    static boolean copy(Tensor src, Tensor dst) {
        if (!src.isContiguous() || !dst.isContiguous() || !Arrays.equals(src.shape(), dst.shape())) {
            return false;
        }
        long n = src.numel();
        MemorySegment s = Elementwise.seg(src), d = Elementwise.seg(dst);
        if (src.dtype() == DType.F32 && dst.dtype() == DType.BF16) {
            long so = src.offset() * 4, doff = dst.offset() * 2;
            for (long i = 0; i < n; i++) {
                d.set(Elements.I16, doff + i * 2, Elements.floatToBf16(s.get(Elements.F32, so + i * 4)));
            }
            return true;
        }
        if (src.dtype() == DType.BF16 && dst.dtype() == DType.F32) {
            long so = src.offset() * 2, doff = dst.offset() * 4;
            for (long i = 0; i < n; i++) {
                d.set(Elements.F32, doff + i * 4, Elements.bf16ToFloat(s.get(Elements.I16, so + i * 2)));
            }
            return true;
        }
        return false;
    }
}
