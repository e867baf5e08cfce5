package ai.attune.kernels.jvm;

import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Tensor;
import ai.attune.kernels.jvm.parallel.Parallel;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.concurrent.ExecutorService;

/**
 * The Vector API cross-entropy backward on contiguous f32 logits, parallel over rows: each row is
 * computed on its own, so the result is the same for any thread count. Returns false for any other
 * case, which then takes {@link CrossEntropy}, the reference it is tested against.
 */
final class FastCrossEntropy {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    private FastCrossEntropy() {}

    // logits, gradLogits: [rows, classes]; targets, lse: [rows]; gradLoss: [rows] or a scalar
    static boolean backward(Tensor logits, Tensor targets, long ignore, Tensor lse, Tensor gradLoss, Tensor gradLogits,
                            ExecutorService pool, int workers) {
        if (logits.rank() != 2 || logits.dtype() != DType.F32 || !logits.isContiguous() || gradLogits.dtype() != DType.F32
                || !gradLogits.isContiguous() || gradLogits.numel() != logits.numel() || lse.dtype() != DType.F32 || !lse.isContiguous()) {
            return false;
        }
        int rows = logits.size(0);
        int classes = logits.size(1);
        MemorySegment sl = Elementwise.seg(logits), st = Elementwise.seg(targets), slse = Elementwise.seg(lse);
        MemorySegment sg = Elementwise.seg(gradLoss), sgl = Elementwise.seg(gradLogits);
        long lo = logits.offset() * 4, glo = gradLogits.offset() * 4;
        long gStride = gradLoss.rank() == 0 ? 0 : gradLoss.stride(0);
        int bound = classes / F.length() * F.length();
        Parallel.forEach(pool, workers, rows, () -> null, s -> {}, (r, s) -> {
            long t = Elements.getLong(st, targets.dtype(), targets.offset() + r * targets.stride(0));
            long base = lo + (long) r * classes * 4, gbase = glo + (long) r * classes * 4;
            if (t == ignore) {
                sgl.asSlice(gbase, (long) classes * 4).fill((byte) 0);
                return;
            }
            float g = (float) Elements.get(sg, gradLoss.dtype(), gradLoss.offset() + r * gStride);
            float l = slse.get(Elements.F32, lse.offset() * 4 + r * 4L);
            int j = 0;
            for (; j < bound; j += F.length()) {
                FloatVector x = FloatVector.fromMemorySegment(F, sl, base + j * 4L, LE);
                VectorMath.exp(x.sub(l)).mul(g).intoMemorySegment(sgl, gbase + j * 4L, LE);
            }
            for (; j < classes; j++) {
                double p = StrictMath.exp(sl.get(Elements.F32, base + j * 4L) - (double) l);
                sgl.set(Elements.F32, gbase + j * 4L, (float) (p * g));
            }
            if (t >= 0 && t < classes) {
                // p - 1 cancels near p = 1: the target's entry in double, as the reference computes it.
                double p = StrictMath.exp(sl.get(Elements.F32, base + t * 4L) - (double) l);
                sgl.set(Elements.F32, gbase + t * 4L, (float) ((p - 1.0) * g));
            }
        });
        return true;
    }
}
