package ai.attune.api.optim;

import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Shape;
import ai.attune.api.tensor.Tensor;

import java.util.HashMap;
import java.util.Map;

/**
 * Temporaries for one optimizer step: one flat buffer per (backend, dtype, slot), as large as the
 * largest parameter, viewed at each parameter's shape. A step then allocates (and zero-fills) its
 * work memory once instead of once per parameter, and holds at most the largest parameter's size
 * per slot rather than the sum over all parameters.
 */
public final class WorkBuffers {
    private record Key(Backend backend, DType dtype, int slot) {}

    private final Scope scope;
    private final long capacity;
    private final Map<Key, Tensor> flat = new HashMap<>();

    /** Buffers of {@code capacity} elements, allocated in {@code scope} on first use. */
    public WorkBuffers(Scope scope, long capacity) {
        this.scope = scope;
        this.capacity = capacity;
    }

    /** A contiguous work tensor of {@code like}'s shape and {@code dtype}; views of one slot overlap, so use one slot per live temporary. */
    public Tensor get(int slot, DType dtype, Tensor like) {
        Backend be = like.backend();
        int[] shape = like.shape();
        long n = like.numel();
        if (n > capacity || capacity > Integer.MAX_VALUE) {
            return be.zeros(dtype, shape, scope); // a size the flat buffer was not planned for, or cannot index
        }
        Tensor buf = flat.computeIfAbsent(new Key(be, dtype, slot), k -> be.zeros(dtype, new int[] {(int) capacity}, scope));
        return buf.asStrided(shape, Shape.contiguousStrides(shape), 0);
    }
}
