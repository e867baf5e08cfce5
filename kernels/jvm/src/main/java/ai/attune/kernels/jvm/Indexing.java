package ai.attune.kernels.jvm;

import ai.attune.api.tensor.BinaryOp;
import ai.attune.api.tensor.Shape;
import ai.attune.api.tensor.Tensor;

import java.lang.foreign.MemorySegment;

/** Embedding gather and its scatter-add, index_select and index_add. */
final class Indexing {
    private Indexing() {}

    static void embedding(Tensor weight, Tensor ids, Tensor out) {
        int vocab = weight.size(0);
        int h = weight.size(1);
        long n = ids.numel();
        MemorySegment si = Elementwise.seg(ids);
        for (long r = 0; r < n; r++) {
            long id = Elements.getLong(si, ids.dtype(), ids.offset() + r);
            checkId(id, vocab, "embedding");
            Tensor src = weight.asStrided(new int[] {h}, new long[] {weight.stride(1)}, weight.offset() + id * weight.stride(0));
            Tensor dst = out.asStrided(new int[] {h}, new long[] {1}, out.offset() + r * h);
            Elementwise.copy(src, dst);
        }
    }

    static void embeddingBackward(Tensor gradOut, Tensor ids, Tensor gradWeight) {
        int vocab = gradWeight.size(0);
        int h = gradWeight.size(1);
        long n = ids.numel();
        MemorySegment si = Elementwise.seg(ids);
        for (long r = 0; r < n; r++) {
            long id = Elements.getLong(si, ids.dtype(), ids.offset() + r);
            checkId(id, vocab, "embedding backward");
            Tensor row = gradWeight.asStrided(new int[] {h}, new long[] {gradWeight.stride(1)}, gradWeight.offset() + id * gradWeight.stride(0));
            Tensor g = gradOut.asStrided(new int[] {h}, new long[] {1}, gradOut.offset() + r * h);
            Elementwise.binary(BinaryOp.ADD, row, g, row);
        }
    }

    static void indexSelect(Tensor src, int dim, Tensor ids, Tensor out) {
        int size = src.size(dim);
        MemorySegment si = Elementwise.seg(ids);
        for (int j = 0; j < ids.numel(); j++) {
            long id = Elements.getLong(si, ids.dtype(), ids.offset() + j * (ids.rank() == 0 ? 0 : ids.stride(0)));
            checkId(id, size, "index_select");
            Elementwise.copy(sliceAt(src, dim, id), sliceAt(out, dim, j));
        }
    }

    static void indexAdd(Tensor gradOut, int dim, Tensor ids, Tensor gradSrc) {
        int size = gradSrc.size(dim);
        MemorySegment si = Elementwise.seg(ids);
        for (int j = 0; j < ids.numel(); j++) {
            long id = Elements.getLong(si, ids.dtype(), ids.offset() + j * (ids.rank() == 0 ? 0 : ids.stride(0)));
            checkId(id, size, "index_add");
            Tensor dst = sliceAt(gradSrc, dim, id);
            Elementwise.binary(BinaryOp.ADD, dst, sliceAt(gradOut, dim, j), dst);
        }
    }

    /** The view of {@code t} at index {@code i} of {@code dim}, keeping the dim with size 1. */
    private static Tensor sliceAt(Tensor t, int dim, long i) {
        int[] s = t.shape();
        s[dim] = 1;
        return t.asStrided(s, t.strides(), t.offset() + i * t.stride(dim));
    }

    static void checkId(long id, int size, String op) {
        if (id < 0 || id >= size) {
            throw new IndexOutOfBoundsException(op + ": index " + id + " is out of range for size " + size);
        }
    }

    static String shape(Tensor t) {
        return Shape.str(t.shape());
    }
}
