package ai.attune.kernels.torch;

import ai.attune.api.tensor.Tensor;
import org.bytedeco.pytorch.global.torch;

import static ai.attune.kernels.torch.Aten.as;
import static ai.attune.kernels.torch.Aten.view;

/** Embedding gather and scatter-add, index_select and index_add, as ATen's index kernels. */
final class Indexing {
    private Indexing() {}

    static void embedding(Tensor weight, Tensor ids, Tensor out) {
        int h = weight.size(1);
        var i = ids(ids, weight.size(0), "embedding");
        var rows = view(out).reshape(-1, h); // [ids, hidden]
        select(rows, view(weight), 0, i, weight, out);
    }

    static void embeddingBackward(Tensor gradOut, Tensor ids, Tensor gradWeight) {
        int h = gradWeight.size(1);
        var i = ids(ids, gradWeight.size(0), "embedding backward");
        var g = as(view(gradOut).reshape(-1, h), gradWeight.dtype()); // [ids, hidden]
        view(gradWeight).index_add_(0, i, g);
    }

    static void indexSelect(Tensor src, int dim, Tensor ids, Tensor out) {
        var i = ids(ids, src.size(dim), "index_select");
        select(view(out), view(src), dim, i, src, out);
    }

    static void indexAdd(Tensor gradOut, int dim, Tensor ids, Tensor gradSrc) {
        var i = ids(ids, gradSrc.size(dim), "index_add");
        view(gradSrc).index_add_(dim, i, as(view(gradOut), gradSrc.dtype()));
    }

    private static void select(org.bytedeco.pytorch.Tensor o, org.bytedeco.pytorch.Tensor s, long dim,
                               org.bytedeco.pytorch.Tensor i, Tensor src, Tensor out) {
        if (src.dtype() == out.dtype()) {
            torch.index_select_out(o, s, dim, i);
        } else {
            o.copy_(torch.index_select(s, dim, i));
        }
    }

    /**
     * The ids flattened to one dim, checked against {@code size} first: ATen's own message names
     * neither the op nor the bad id.
     */
    private static org.bytedeco.pytorch.Tensor ids(Tensor ids, int size, String op) {
        var i = view(ids).reshape(-1);
        if (ids.numel() > 0) {
            long lo = i.min().item_long();
            long hi = i.max().item_long();
            if (lo < 0 || hi >= size) {
                throw new IndexOutOfBoundsException(op + ": index " + (lo < 0 ? lo : hi) + " is out of range for size " + size);
            }
        }
        return i;
    }
}
