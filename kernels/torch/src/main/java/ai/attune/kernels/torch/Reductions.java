package ai.attune.kernels.torch;

import ai.attune.api.tensor.ReduceOp;
import ai.attune.api.tensor.Shape;
import ai.attune.api.tensor.Tensor;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.global.torch;

import java.util.Arrays;

import static ai.attune.kernels.torch.Aten.view;

/** Sum, mean, amax and amin over chosen dims with keepdim, as ATen's reductions (f32 accumulation for bf16). */
final class Reductions {
    private Reductions() {}

    static void reduce(ReduceOp op, Tensor a, int[] dims, Tensor out) {
        int[] shape = a.shape();
        int[] kept = shape.clone();
        long[] reduced = new long[dims.length];
        long count = 1;
        for (int i = 0; i < dims.length; i++) {
            int d = Shape.dim(dims[i], shape.length);
            kept[d] = 1;
            reduced[i] = d;
            count *= shape[d];
        }
        if (!Arrays.equals(out.shape(), kept) || !out.isContiguous()) {
            throw new IllegalArgumentException("reduce: out must be contiguous " + Shape.str(kept) + ", got " + Shape.str(out.shape()));
        }
        if (count == 0 && (op == ReduceOp.MAX || op == ReduceOp.MIN)) {
            throw new IllegalArgumentException("max/min of an empty dim has no identity: shape " + Shape.str(shape));
        }
        var x = view(a);
        var o = view(out);
        if (dims.length == 0) {
            // ATen reads an empty dim list as "all dims"; here it means nothing is reduced.
            o.copy_(x);
            return;
        }
        if (a.dtype() != out.dtype()) {
            var r = switch (op) {
                case SUM -> x.sum(reduced, true, new ScalarTypeOptional());
                case MEAN -> x.mean(reduced, true, new ScalarTypeOptional());
                case MAX -> torch.amax(x, reduced, true);
                case MIN -> torch.amin(x, reduced, true);
            };
            o.copy_(r);
            return;
        }
        switch (op) {
            case SUM -> torch.sum_out(o, x, reduced, true, new ScalarTypeOptional());
            case MEAN -> torch.mean_out(o, x, reduced, true, new ScalarTypeOptional());
            case MAX -> torch.amax_out(o, x, reduced, true);
            case MIN -> torch.amin_out(o, x, reduced, true);
        }
    }
}
