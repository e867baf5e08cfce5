package ai.attune.kernels.jvm;

import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.UnaryOp;
import ai.attune.kernels.jvm.parallel.Parallel;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.concurrent.ExecutorService;

/**
 * Vector API paths for the unary ops and their backwards on contiguous f32 tensors, split into
 * chunks of {@link #CHUNK} elements over the backend's pool. Chunk boundaries are fixed multiples
 * of every vector length and each element is computed on its own, so the result is the same for
 * any thread count. Each method returns false for any other case, which then takes the scalar
 * path of {@link Elementwise} and {@link Activations}, the reference these are tested against.
 */
final class FastActivations {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    /** Elements per parallel unit: 64 KiB of f32, a multiple of every vector length. */
    static final int CHUNK = 16384;

    private FastActivations() {}

    private static boolean flatF32(Tensor t) {
        return t.dtype() == DType.F32 && t.isContiguous();
    }

    private static int chunks(long n) {
        return (int) ((n + CHUNK - 1) / CHUNK);
    }

    static boolean unary(UnaryOp op, Tensor a, Tensor out, ExecutorService pool, int workers) {
        boolean handled = switch (op) {
            case NEG, ABS, EXP, TANH, SILU, SIGMOID, SQUARE, RELU -> true;
            default -> false;
        };
        if (!handled || !flatF32(a) || !flatF32(out) || a.numel() != out.numel()) {
            return false;
        }
        long n = out.numel();
        MemorySegment sa = Elementwise.seg(a), so = Elementwise.seg(out);
        long ao = a.offset() * 4, oo = out.offset() * 4;
        Parallel.forEach(pool, workers, chunks(n), () -> null, s -> {}, (c, s) -> {
            long from = (long) c * CHUNK;
            unaryLanes(op, sa, ao, so, oo, from, Math.min(n, from + CHUNK));
        });
        return true;
    }

    private static void unaryLanes(UnaryOp op, MemorySegment sa, long ao, MemorySegment so, long oo, long from, long to) {
        long i = from;
        long bound = from + (to - from) / F.length() * F.length();
        for (; i < bound; i += F.length()) {
            FloatVector x = FloatVector.fromMemorySegment(F, sa, ao + i * 4, LE);
            FloatVector r = switch (op) {
                // VectorMath, not lanewise(EXP): the latter's bits differ between interpreter and JIT.
                case SILU -> x.div(VectorMath.exp(x.neg()).add(1f));
                case SIGMOID -> FloatVector.broadcast(F, 1f).div(VectorMath.exp(x.neg()).add(1f));
                case EXP -> VectorMath.exp(x);
                case TANH -> VectorMath.tanh(x);
                case SQUARE -> x.mul(x);
                case RELU -> x.max(0f);
                case ABS -> x.abs();
                default -> x.neg();
            };
            r.intoMemorySegment(so, oo + i * 4, LE);
        }
        for (; i < to; i++) {
            so.set(Elements.F32, oo + i * 4, (float) Activations.forward(op, sa.get(Elements.F32, ao + i * 4)));
        }
    }

    /** gradIn = gradOut * f'(x), for the activations of a training step. */
    static boolean unaryBackward(UnaryOp op, Tensor x, Tensor gradOut, Tensor gradIn, ExecutorService pool, int workers) {
        boolean handled = switch (op) {
            case SILU, SIGMOID, TANH -> true;
            default -> false;
        };
        if (!handled || !flatF32(x) || !flatF32(gradOut) || !flatF32(gradIn)
                || !Arrays.equals(x.shape(), gradIn.shape()) || !Arrays.equals(gradOut.shape(), gradIn.shape())) {
            return false;
        }
        long n = gradIn.numel();
        MemorySegment sx = Elementwise.seg(x), sg = Elementwise.seg(gradOut), si = Elementwise.seg(gradIn);
        long xo = x.offset() * 4, go = gradOut.offset() * 4, io = gradIn.offset() * 4;
        Parallel.forEach(pool, workers, chunks(n), () -> null, s -> {}, (c, s) -> {
            long from = (long) c * CHUNK;
            backwardLanes(op, sx, xo, sg, go, si, io, from, Math.min(n, from + CHUNK));
        });
        return true;
    }

    private static void backwardLanes(UnaryOp op, MemorySegment sx, long xo, MemorySegment sg, long go, MemorySegment si, long io,
                                      long from, long to) {
        FloatVector one = FloatVector.broadcast(F, 1f);
        long i = from;
        long bound = from + (to - from) / F.length() * F.length();
        for (; i < bound; i += F.length()) {
            FloatVector x = FloatVector.fromMemorySegment(F, sx, xo + i * 4, LE);
            FloatVector g = FloatVector.fromMemorySegment(F, sg, go + i * 4, LE);
            FloatVector d = switch (op) {
                case SILU -> {
                    FloatVector s = one.div(VectorMath.exp(x.neg()).add(one));
                    // s * (1 + x * (1 - s))
                    yield s.mul(x.mul(one.sub(s)).add(one));
                }
                case SIGMOID -> {
                    FloatVector s = one.div(VectorMath.exp(x.neg()).add(one));
                    yield s.mul(one.sub(s));
                }
                default -> {
                    FloatVector t = VectorMath.tanh(x);
                    yield one.sub(t.mul(t));
                }
            };
            g.mul(d).intoMemorySegment(si, io + i * 4, LE);
        }
        for (; i < to; i++) {
            double d = Activations.derivative(op, sx.get(Elements.F32, xo + i * 4));
            si.set(Elements.F32, io + i * 4, (float) (sg.get(Elements.F32, go + i * 4) * d));
        }
    }
}
