package ai.attune.kernels.torch;

import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Tensor;
import org.bytedeco.pytorch.global.torch;

import static ai.attune.kernels.torch.Aten.as;
import static ai.attune.kernels.torch.Aten.scalar;
import static ai.attune.kernels.torch.Aten.view;

/**
 * Per-row cross-entropy with an ignore index, from ATen's logsumexp in f32 (f64 for f64): loss is
 * {@code lse - logits[target]}, 0 on ignored rows; the backward is {@code (softmax - onehot) * g}.
 */
final class CrossEntropy {
    private CrossEntropy() {}

    static void forward(Tensor logits, Tensor targets, long ignoreIndex, Tensor loss, Tensor lse) {
        DType acc = Aten.accumulation(logits);
        var z = as(view(logits), acc); // [rows, classes]
        var l = torch.logsumexp(z, new long[] {1}, false); // [rows]
        var t = targets(targets, ignoreIndex, logits.size(1));
        var picked = z.gather(1, t.safe.unsqueeze(1)).squeeze(1); // [rows]
        view(lse).copy_(l);
        view(loss).copy_(l.sub(picked).masked_fill(t.ignored, scalar(0)));
    }

    static void backward(Tensor logits, Tensor targets, long ignoreIndex, Tensor lse, Tensor gradLoss, Tensor gradLogits) {
        DType acc = Aten.accumulation(logits);
        int rows = logits.size(0);
        var z = as(view(logits), acc); // [rows, classes]
        var t = targets(targets, ignoreIndex, logits.size(1));
        var p = z.sub(as(view(lse), acc).unsqueeze(1)).exp(); // softmax [rows, classes]
        p.scatter_add_(1, t.safe.unsqueeze(1), torch.full(new long[] {rows, 1}, scalar(-1), Aten.options(acc)));
        var g = as(view(gradLoss), acc); // [] or [rows]
        var grad = p.mul(gradLoss.rank() == 0 ? g : g.unsqueeze(1));
        view(gradLogits).copy_(grad.masked_fill(t.ignored.unsqueeze(1), scalar(0)));
    }

    /** i64 targets with ignored rows pointed at class 0 (so gather and scatter stay in range), and which rows those are. */
    private record Targets(org.bytedeco.pytorch.Tensor safe, org.bytedeco.pytorch.Tensor ignored) {}

    private static Targets targets(Tensor targets, long ignoreIndex, int classes) {
        var t = as(view(targets), DType.I64); // [rows]
        var ignored = t.eq(scalar(ignoreIndex));
        var safe = t.masked_fill(ignored, scalar(0));
        if (targets.numel() > 0) {
            long lo = safe.min().item_long();
            long hi = safe.max().item_long();
            if (lo < 0 || hi >= classes) {
                throw new IndexOutOfBoundsException("cross_entropy: target " + (lo < 0 ? lo : hi) + " is out of range for " + classes + " classes");
            }
        }
        return new Targets(safe, ignored);
    }
}
