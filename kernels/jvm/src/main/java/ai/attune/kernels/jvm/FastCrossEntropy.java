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
 * The Vector API cross-entropy forward and backward on contiguous f32 logits, parallel over rows:
 * each row is computed on its own and its max and sum of exponentials in the fixed order of {@link
 * RowMath}, so the result is the same for any thread count. Each method returns false for any
 * other case, which then takes {@link CrossEntropy}, the reference these are tested against.
 */
final class FastCrossEntropy {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    private FastCrossEntropy() {}

    private static boolean flatF32(Tensor t) {
        return t.dtype() == DType.F32 && t.isContiguous();
    }

    // logits: [rows, classes]; targets, loss, lse: [rows]
    static boolean forward(Tensor logits, Tensor targets, long ignore, Tensor loss, Tensor lse, ExecutorService pool, int workers) {
        if (logits.rank() != 2 || !flatF32(logits) || !flatF32(loss) || !flatF32(lse) || targets.rank() != 1) {
            return false;
        }
        int rows = logits.size(0);
        int classes = logits.size(1);
        if (classes == 0 || loss.numel() != rows || lse.numel() != rows || targets.size(0) != rows) {
            return false;
        }
        MemorySegment sl = Elementwise.seg(logits), st = Elementwise.seg(targets);
        MemorySegment sloss = Elementwise.seg(loss), slse = Elementwise.seg(lse);
        long lo = logits.offset() * 4, losso = loss.offset() * 4, lseo = lse.offset() * 4;
        // A unit is one row of a vocabulary-sized row, several of narrow ones.
        int perUnit = Math.max(1, FastActivations.CHUNK / classes);
        Parallel.forEach(pool, workers, (rows + perUnit - 1) / perUnit, () -> null, s -> {}, (u, s) -> {
            for (int r = u * perUnit; r < Math.min(rows, (u + 1) * perUnit); r++) {
                long base = lo + (long) r * classes * 4;
                float max = RowMath.max(sl, base, classes);
                double l = max + StrictMath.log(RowMath.sumExp(sl, base, classes, max));
                slse.set(Elements.F32, lseo + r * 4L, (float) l);
                long t = Elements.getLong(st, targets.dtype(), targets.offset() + r * targets.stride(0));
                if (t == ignore) {
                    sloss.set(Elements.F32, losso + r * 4L, 0f);
                    continue;
                }
                if (t < 0 || t >= classes) {
                    throw new IndexOutOfBoundsException("cross_entropy: target " + t + " of row " + r + " is out of range for " + classes + " classes");
                }
                sloss.set(Elements.F32, losso + r * 4L, (float) (l - sl.get(Elements.F32, base + t * 4L)));
            }
        });
        return true;
    }

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
