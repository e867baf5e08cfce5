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
    private static final float INV_SQRT_2 = (float) (1.0 / Math.sqrt(2.0));
    private static final float INV_SQRT_2PI = (float) (1.0 / Math.sqrt(2.0 * Math.PI));
    private static final float SQRT_2_OVER_PI = (float) Math.sqrt(2.0 / Math.PI);
    private static final float GELU_CUBIC = 0.044715f;
    /** |x| past which GELU's tanh-form derivative is 0 or 1 in f32; clamping keeps x^3 finite. */
    private static final float GELU_SATURATED = 10f;
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
            case NEG, ABS, EXP, TANH, SILU, SIGMOID, SQUARE, RELU, GELU_ERF, GELU_TANH -> true;
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
                case GELU_ERF -> VectorMath.onePlusErf(x.mul(INV_SQRT_2)).mul(x).mul(0.5f);
                // 0.5 x (1 + tanh u) = x sigmoid(2u): no 1 + tanh that cancels for negative x
                case GELU_TANH -> x.div(VectorMath.exp(geluTanhInner(x).mul(-2f)).add(1f));
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

    /** u = sqrt(2 / pi) (x + 0.044715 x^3), the argument of tanh in GELU's tanh form. */
    private static FloatVector geluTanhInner(FloatVector x) {
        return x.mul(x).mul(GELU_CUBIC).fma(x, x).mul(SQRT_2_OVER_PI);
    }

    /** gradIn = gradOut * f'(x), for the activations of a training step. */
    static boolean unaryBackward(UnaryOp op, Tensor x, Tensor gradOut, Tensor gradIn, ExecutorService pool, int workers) {
        boolean handled = switch (op) {
            case SILU, SIGMOID, TANH, GELU_ERF, GELU_TANH -> true;
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
                case GELU_ERF -> {
                    // 0.5 (1 + erf(x / sqrt 2)) + x e^(-x^2 / 2) / sqrt(2 pi)
                    FloatVector density = VectorMath.exp(x.mul(x).mul(-0.5f)).mul(INV_SQRT_2PI);
                    yield VectorMath.onePlusErf(x.mul(INV_SQRT_2)).mul(0.5f).add(x.mul(density));
                }
                case GELU_TANH -> {
                    // With e = e^(-2u), s = 1 / (1 + e) = sigmoid(2u): 0.5 (1 + tanh u) = s and
                    // 0.5 x (1 - tanh^2 u) u' = 2 x s (1 - s) u', where 1 - s = e s does not cancel.
                    FloatVector xc = x.max(-GELU_SATURATED).min(GELU_SATURATED);
                    FloatVector e = VectorMath.exp(geluTanhInner(xc).mul(-2f));
                    FloatVector s = one.div(e.add(one));
                    FloatVector du = xc.mul(xc).mul(3 * GELU_CUBIC).add(one).mul(SQRT_2_OVER_PI);
                    yield s.mul(e.mul(s)).mul(xc).mul(du).mul(2f).add(s);
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
