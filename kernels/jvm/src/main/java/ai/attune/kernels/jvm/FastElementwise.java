package ai.attune.kernels.jvm;

import ai.attune.api.tensor.BinaryOp;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.ScalarOp;
import ai.attune.api.tensor.Tensor;
import ai.attune.kernels.jvm.parallel.Parallel;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.concurrent.ExecutorService;

/**
 * Vector API paths for the elementwise cases that dominate a training step: contiguous f32
 * tensors of one shape (or a row vector broadcast over rows, as a bias), and casts between f32
 * and bf16. Each method returns false for any other case, which then takes the scalar path of
 * {@link Elementwise}, the reference these are tested against.
 */
final class FastElementwise {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    /** Doubles for a scalar that is no exact float; the floats they widen from fill half a vector. */
    private static final VectorSpecies<Double> D = DoubleVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Float> F_HALF = VectorSpecies.of(float.class, VectorShape.forBitSize(D.vectorBitSize() / 2));
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final int CHUNK = FastActivations.CHUNK;

    private FastElementwise() {}

    private static boolean flatF32(Tensor t) {
        return t.dtype() == DType.F32 && t.isContiguous();
    }

    /**
     * {@code out = a op b} split over the pool: in chunks of {@link FastActivations#CHUNK} elements
     * for operands of one shape, in whole blocks for a b broadcast over leading dims (a bias), in
     * whole rows for a b of one scalar per row. An
     * element is computed alone, so the bits do not depend on the thread count. Memory-bound as it
     * is, one core streams only part of the bandwidth: BERT's bias and residual adds on
     * [tokens, 1536] took a tenth of an embedding pass on one core while the other waited.
     */
    static boolean binary(BinaryOp op, Tensor a, Tensor b, Tensor out, ExecutorService pool, int workers) {
        if (op == BinaryOp.MUL && b.dtype() == DType.U8 && flatF32(a) && flatF32(out) && b.isContiguous()
                && Arrays.equals(a.shape(), out.shape()) && Arrays.equals(b.shape(), out.shape())) {
            masked(a, b, out, pool, workers);
            return true;
        }
        if (!(op == BinaryOp.ADD || op == BinaryOp.SUB || op == BinaryOp.MUL || op == BinaryOp.DIV)
                || !flatF32(a) || !flatF32(b) || !flatF32(out) || !Arrays.equals(a.shape(), out.shape())) {
            return false;
        }
        long n = out.numel();
        MemorySegment sa = Elementwise.seg(a), sb = Elementwise.seg(b), so = Elementwise.seg(out);
        long ao = a.offset() * 4, bo = b.offset() * 4, oo = out.offset() * 4;
        if (Arrays.equals(b.shape(), out.shape())) {
            Parallel.forEach(pool, workers, chunks(n), () -> null, s -> {}, (c, s) -> {
                long from = (long) c * CHUNK;
                long len = Math.min(n, from + CHUNK) - from;
                lanes(op, sa, ao + from * 4, sb, bo + from * 4, so, oo + from * 4, len);
            });
            return true;
        }
        int[] bs = b.shape();
        int[] os = out.shape();
        long block = suffixBlock(bs, os);
        if (block > 0) {
            // b is a block of out's trailing dims broadcast over its leading ones: a bias or norm
            // weight [hidden], BERT's position embeddings [t, hidden] over the batch.
            long blocks = n / block;
            long blocksPerUnit = Math.max(1, CHUNK / block);
            Parallel.forEach(pool, workers, Math.toIntExact((blocks + blocksPerUnit - 1) / blocksPerUnit), () -> null, s -> {}, (u, s) -> {
                for (long r = u * blocksPerUnit; r < Math.min(blocks, (u + 1) * blocksPerUnit); r++) {
                    lanes(op, sa, ao + r * block * 4, sb, bo, so, oo + r * block * 4, block);
                }
            });
            return true;
        }
        int row = os.length == 0 ? 0 : os[os.length - 1];
        if (row > 0 && bs.length == os.length && bs[bs.length - 1] == 1
                && Arrays.equals(Arrays.copyOf(bs, bs.length - 1), Arrays.copyOf(os, os.length - 1))) {
            // b [..., 1]: one scalar per row of a, as the attention mask [b, t, 1] in mean pooling.
            long rows = n / row;
            long rowsPerUnit = Math.max(1, CHUNK / row);
            Parallel.forEach(pool, workers, Math.toIntExact((rows + rowsPerUnit - 1) / rowsPerUnit), () -> null, s -> {}, (u, s) -> {
                for (long r = u * rowsPerUnit; r < Math.min(rows, (u + 1) * rowsPerUnit); r++) {
                    rowScalarLanes(op, sa, ao + r * row * 4, sb.get(Elements.F32, bo + r * 4), so, oo + r * row * 4, row);
                }
            });
            return true;
        }
        return false;
    }

    /**
     * The elements of b when b, less its leading 1s, is the trailing part of out's shape (so b
     * repeats every that many elements of out); 0 otherwise.
     */
    private static long suffixBlock(int[] bs, int[] os) {
        int lead = 0;
        while (lead < bs.length && bs[lead] == 1 && bs.length - lead > 1) {
            lead++;
        }
        int len = bs.length - lead;
        if (len == 0 || len > os.length) {
            return 0;
        }
        long block = 1;
        for (int i = 0; i < len; i++) {
            if (bs[lead + i] != os[os.length - len + i]) {
                return 0;
            }
            block *= bs[lead + i];
        }
        return block;
    }

    /** out = a op y over n elements, y one scalar. */
    private static void rowScalarLanes(BinaryOp op, MemorySegment sa, long ao, float y, MemorySegment so, long oo, long n) {
        long i = 0;
        long bound = n - n % F.length();
        FloatVector yv = FloatVector.broadcast(F, y);
        for (; i < bound; i += F.length()) {
            FloatVector x = FloatVector.fromMemorySegment(F, sa, ao + i * 4, LE);
            FloatVector r = switch (op) {
                case ADD -> x.add(yv);
                case SUB -> x.sub(yv);
                case MUL -> x.mul(yv);
                default -> x.div(yv);
            };
            r.intoMemorySegment(so, oo + i * 4, LE);
        }
        for (; i < n; i++) {
            so.set(Elements.F32, oo + i * 4, (float) Elementwise.apply(op, sa.get(Elements.F32, ao + i * 4), y));
        }
    }

    private static int chunks(long n) {
        return units(n, CHUNK);
    }

    /** How many units of {@code per} elements cover {@code n}. */
    static int units(long n, int per) {
        return Math.toIntExact((n + per - 1) / per);
    }

    /** out = a * mask, the mask one byte (0 or 1) an element: dropout's backward. */
    private static void masked(Tensor a, Tensor mask, Tensor out, ExecutorService pool, int workers) {
        long n = out.numel();
        MemorySegment sa = Elementwise.seg(a), sm = Elementwise.seg(mask), so = Elementwise.seg(out);
        long ao = a.offset() * 4, mo = mask.offset(), oo = out.offset() * 4;
        Parallel.forEach(pool, workers, chunks(n), () -> null, s -> {}, (c, s) -> {
            long from = (long) c * CHUNK;
            long to = Math.min(n, from + CHUNK);
            for (long i = from; i < to; i++) {
                float x = sa.get(Elements.F32, ao + i * 4);
                so.set(Elements.F32, oo + i * 4, sm.get(ValueLayout.JAVA_BYTE, mo + i) != 0 ? x * 1f : x * 0f);
            }
        });
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
        Parallel.forEach(pool, workers, chunks(n), () -> null, x -> {}, (c, x) -> {
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

    /** {@code out = a op s}, split over the pool in chunks as {@link #binary}. */
    static boolean scalar(ScalarOp op, Tensor a, double s, Tensor out, ExecutorService pool, int workers) {
        if (!(op == ScalarOp.ADD || op == ScalarOp.MUL || op == ScalarOp.RSUB) || !flatF32(a) || !flatF32(out)) {
            return false;
        }
        long n = out.numel();
        MemorySegment sa = Elementwise.seg(a), so = Elementwise.seg(out);
        long ao = a.offset() * 4, oo = out.offset() * 4;
        float k = (float) s;
        // A scalar that is no exact float (dropout's 1 / (1 - p)) is applied in double, as the
        // reference does, then rounded once: f32 arithmetic with k would round differently.
        boolean exact = (double) k == s;
        Parallel.forEach(pool, workers, chunks(n), () -> null, st -> {}, (c, st) -> {
            long from = (long) c * CHUNK;
            if (exact) {
                scalarLanes(op, k, sa, ao, so, oo, from, Math.min(n, from + CHUNK));
            } else {
                scalarLanesInDouble(op, s, sa, ao, so, oo, from, Math.min(n, from + CHUNK));
            }
        });
        return true;
    }

    private static void scalarLanesInDouble(ScalarOp op, double s, MemorySegment sa, long ao, MemorySegment so, long oo,
                                            long from, long to) {
        long i = from;
        int lanes = D.length();
        long bound = from + (to - from) / lanes * lanes;
        for (; i < bound; i += lanes) {
            DoubleVector x = (DoubleVector) FloatVector.fromMemorySegment(F_HALF, sa, ao + i * 4, LE)
                    .convertShape(VectorOperators.F2D, D, 0);
            DoubleVector r = switch (op) {
                case ADD -> x.add(s);
                case MUL -> x.mul(s);
                default -> x.neg().add(s);
            };
            ((FloatVector) r.convertShape(VectorOperators.D2F, F_HALF, 0)).intoMemorySegment(so, oo + i * 4, LE);
        }
        for (; i < to; i++) {
            double x = sa.get(Elements.F32, ao + i * 4);
            so.set(Elements.F32, oo + i * 4, (float) switch (op) {
                case ADD -> x + s;
                case MUL -> x * s;
                default -> s - x;
            });
        }
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
