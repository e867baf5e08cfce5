package ai.attune.kernels.jvm;

import ai.attune.api.tensor.Tensor;

import java.lang.foreign.MemorySegment;

/** Per-row cross-entropy with an ignore index, from a log-sum-exp computed in double. */
final class CrossEntropy {
    private CrossEntropy() {}

    static void forward(Tensor logits, Tensor targets, long ignore, Tensor loss, Tensor lse) {
        Normalization.requireContiguous(logits);
        int rows = logits.size(0);
        int classes = logits.size(1);
        MemorySegment sl = Elementwise.seg(logits), st = Elementwise.seg(targets);
        MemorySegment sloss = Elementwise.seg(loss), slse = Elementwise.seg(lse);
        for (int r = 0; r < rows; r++) {
            long t = Elements.getLong(st, targets.dtype(), targets.offset() + r * targets.stride(0));
            long base = logits.offset() + (long) r * classes;
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < classes; j++) {
                max = Math.max(max, Elements.get(sl, logits.dtype(), base + j));
            }
            double sum = 0;
            for (int j = 0; j < classes; j++) {
                sum += Math.exp(Elements.get(sl, logits.dtype(), base + j) - max);
            }
            double l = max + Math.log(sum);
            Elements.set(slse, lse.dtype(), lse.offset() + r, l);
            if (t == ignore) {
                Elements.set(sloss, loss.dtype(), loss.offset() + r, 0.0);
                continue;
            }
            if (t < 0 || t >= classes) {
                throw new IndexOutOfBoundsException("cross_entropy: target " + t + " of row " + r + " is out of range for " + classes + " classes");
            }
            Elements.set(sloss, loss.dtype(), loss.offset() + r, l - Elements.get(sl, logits.dtype(), base + t));
        }
    }

    static void backward(Tensor logits, Tensor targets, long ignore, Tensor lse, Tensor gradLoss, Tensor gradLogits) {
        int rows = logits.size(0);
        int classes = logits.size(1);
        MemorySegment sl = Elementwise.seg(logits), st = Elementwise.seg(targets), slse = Elementwise.seg(lse);
        MemorySegment sg = Elementwise.seg(gradLoss), sgl = Elementwise.seg(gradLogits);
        for (int r = 0; r < rows; r++) {
            long t = Elements.getLong(st, targets.dtype(), targets.offset() + r * targets.stride(0));
            long base = logits.offset() + (long) r * classes;
            long gbase = gradLogits.offset() + (long) r * classes;
            if (t == ignore) {
                for (int j = 0; j < classes; j++) {
                    Elements.set(sgl, gradLogits.dtype(), gbase + j, 0.0);
                }
                continue;
            }
            double g = Elements.get(sg, gradLoss.dtype(), gradLoss.offset() + r * (gradLoss.rank() == 0 ? 0 : gradLoss.stride(0)));
            double l = Elements.get(slse, lse.dtype(), lse.offset() + r);
            for (int j = 0; j < classes; j++) {
                double p = Math.exp(Elements.get(sl, logits.dtype(), base + j) - l);
                Elements.set(sgl, gradLogits.dtype(), gbase + j, (p - (j == t ? 1.0 : 0.0)) * g);
            }
        }
    }
}
