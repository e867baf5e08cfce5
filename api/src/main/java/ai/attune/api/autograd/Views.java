package ai.attune.api.autograd;

import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Shape;
import ai.attune.api.tensor.Tensor;

import java.util.Arrays;
import java.util.List;

/**
 * Shape ops with gradients. Transposes, permutes and slices are views on the same storage;
 * reshape is a view when the input is contiguous and a copy otherwise, as {@code torch.reshape}.
 */
public final class Views {
    private Views() {}

    /** {@code torch.reshape}; one dim may be -1. */
    public static Tensor reshape(Tensor t, int... shape) {
        int[] target = inferShape(shape, t.numel(), t.shape());
        if (Arrays.equals(target, t.shape())) {
            return t;
        }
        Tensor src = t.isContiguous() ? t : contiguous(t);
        Tensor out = src.asStrided(target, Shape.contiguousStrides(target), src.offset());
        int[] original = t.shape();
        return OpNode.record("reshape", out, new Tensor[] {src}, g -> new Tensor[] {reshape(g, original)});
    }

    private static int[] inferShape(int[] shape, long numel, int[] from) {
        int[] out = shape.clone();
        int infer = -1;
        long known = 1;
        for (int i = 0; i < out.length; i++) {
            if (out[i] == -1) {
                if (infer >= 0) {
                    throw new IllegalArgumentException("only one dim may be -1 in " + Arrays.toString(shape));
                }
                infer = i;
            } else {
                known *= out[i];
            }
        }
        if (infer >= 0) {
            if (known == 0 || numel % known != 0) {
                throw new IllegalArgumentException("cannot reshape " + Shape.str(from) + " to " + Arrays.toString(shape));
            }
            out[infer] = (int) (numel / known);
        }
        if (Shape.numel(out) != numel) {
            throw new IllegalArgumentException("cannot reshape " + Shape.str(from) + " (" + numel + " elements) to " + Arrays.toString(shape));
        }
        return out;
    }

    /** {@code torch.transpose(t, d0, d1)}: a view. */
    public static Tensor transpose(Tensor t, int d0, int d1) {
        int r = t.rank();
        int a = Shape.dim(d0, r);
        int b = Shape.dim(d1, r);
        int[] perm = new int[r];
        for (int i = 0; i < r; i++) {
            perm[i] = i;
        }
        perm[a] = b;
        perm[b] = a;
        return permute(t, perm);
    }

    /** {@code t.permute(perm)}: a view. */
    public static Tensor permute(Tensor t, int... perm) {
        int r = t.rank();
        if (perm.length != r) {
            throw new IllegalArgumentException("permute of rank " + r + " needs " + r + " dims, got " + Arrays.toString(perm));
        }
        int[] shape = t.shape();
        long[] strides = t.strides();
        int[] ns = new int[r];
        long[] nst = new long[r];
        int[] inverse = new int[r];
        boolean[] seen = new boolean[r];
        for (int i = 0; i < r; i++) {
            int p = Shape.dim(perm[i], r);
            if (seen[p]) {
                throw new IllegalArgumentException("permute: dim " + p + " repeated in " + Arrays.toString(perm));
            }
            seen[p] = true;
            ns[i] = shape[p];
            nst[i] = strides[p];
            inverse[p] = i;
        }
        Tensor out = t.asStrided(ns, nst, t.offset());
        return OpNode.record("permute", out, new Tensor[] {t}, g -> new Tensor[] {permute(g, inverse)});
    }

    /** {@code t[..., start:end, ...]} along {@code dim}: a view. */
    public static Tensor slice(Tensor t, int dim, int start, int end) {
        int d = Shape.dim(dim, t.rank());
        int[] shape = t.shape();
        if (start < 0 || end > shape[d] || start > end) {
            throw new IllegalArgumentException("slice [" + start + ", " + end + ") out of range for dim " + d + " of " + Shape.str(shape));
        }
        long[] strides = t.strides();
        int[] ns = shape.clone();
        ns[d] = end - start;
        Tensor out = t.asStrided(ns, strides, t.offset() + start * strides[d]);
        return OpNode.record("slice", out, new Tensor[] {t}, g -> {
            Tensor gi = Ops.emptyLike(g, shape);
            Tensor window = gi.asStrided(ns, gi.strides(), start * gi.strides()[d]);
            g.backend().copy(g, window);
            return new Tensor[] {gi};
        });
    }

    /** {@code torch.cat(tensors, dim)}. */
    public static Tensor concat(List<Tensor> tensors, int dim) {
        if (tensors.isEmpty()) {
            throw new IllegalArgumentException("concat of no tensors");
        }
        Tensor first = tensors.get(0);
        int d = Shape.dim(dim, first.rank());
        int[] shape = first.shape();
        int total = 0;
        for (Tensor t : tensors) {
            int[] s = t.shape();
            if (s.length != shape.length) {
                throw new IllegalArgumentException("concat: ranks differ: " + Shape.str(shape) + " and " + Shape.str(s));
            }
            for (int i = 0; i < s.length; i++) {
                if (i != d && s[i] != shape[i]) {
                    throw new IllegalArgumentException("concat along " + d + ": shapes " + Shape.str(shape) + " and " + Shape.str(s) + " differ");
                }
            }
            total += s[d];
        }
        shape[d] = total;
        Tensor out = first.backend().zeros(first.dtype(), shape, Scope.current());
        long[] st = out.strides();
        int at = 0;
        int[] starts = new int[tensors.size()];
        for (int i = 0; i < tensors.size(); i++) {
            Tensor t = tensors.get(i);
            starts[i] = at;
            out.backend().copy(t, out.asStrided(t.shape(), st, at * st[d]));
            at += t.size(d);
        }
        return OpNode.record("cat", out, tensors.toArray(new Tensor[0]), g -> {
            Tensor[] gs = new Tensor[tensors.size()];
            for (int i = 0; i < gs.length; i++) {
                Tensor t = tensors.get(i);
                gs[i] = t.requiresGrad() ? contiguous(slice(g, d, starts[i], starts[i] + t.size(d))) : null;
            }
            return gs;
        });
    }

    /** A contiguous copy (or {@code t} itself when it already is). */
    public static Tensor contiguous(Tensor t) {
        if (t.isContiguous()) {
            return t;
        }
        Tensor out = Ops.emptyLike(t, t.shape());
        t.backend().copy(t, out);
        return OpNode.record("contiguous", out, new Tensor[] {t}, g -> new Tensor[] {g});
    }

    /** Inserts a dim of size 1. */
    public static Tensor unsqueeze(Tensor t, int dim) {
        int d = dim < 0 ? dim + t.rank() + 1 : dim;
        int[] s = t.shape();
        int[] ns = new int[s.length + 1];
        for (int i = 0, j = 0; i < ns.length; i++) {
            ns[i] = i == d ? 1 : s[j++];
        }
        return reshape(t, ns);
    }

    /** Merges dims {@code [start, end]} into one ({@code torch.flatten}). */
    public static Tensor flatten(Tensor t, int start, int end) {
        int r = t.rank();
        int a = Shape.dim(start, r);
        int b = Shape.dim(end, r);
        int[] s = t.shape();
        int[] ns = new int[r - (b - a)];
        int k = 0;
        for (int i = 0; i < a; i++) {
            ns[k++] = s[i];
        }
        int merged = 1;
        for (int i = a; i <= b; i++) {
            merged *= s[i];
        }
        ns[k++] = merged;
        for (int i = b + 1; i < r; i++) {
            ns[k++] = s[i];
        }
        return reshape(t, ns);
    }
}
