package ai.attune.api.model;

import ai.attune.api.autograd.Views;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;

/**
 * Keys and values of past positions, per layer: [batch, kvHeads, capacity, headDim] buffers that
 * decoding appends to, so each new token attends to the cache instead of recomputing the prefix.
 */
public final class KvCache {
    private final Tensor[] keys;
    private final Tensor[] values;
    private final int capacity;
    private int length;

    public KvCache(Backend be, DType dtype, Scope scope, int layers, int batch, int kvHeads, int capacity, int headDim) {
        this.keys = new Tensor[layers];
        this.values = new Tensor[layers];
        this.capacity = capacity;
        int[] shape = {batch, kvHeads, capacity, headDim};
        for (int i = 0; i < layers; i++) {
            keys[i] = be.zeros(dtype, shape, scope);
            values[i] = be.zeros(dtype, shape, scope);
        }
    }

    /** Positions already cached. */
    public int length() {
        return length;
    }

    public int capacity() {
        return capacity;
    }

    /**
     * Writes the new k, v [batch, kvHeads, t, headDim] of {@code layer} after the cached positions
     * and returns views of everything cached so far, including them.
     */
    public Tensor[] append(int layer, Tensor k, Tensor v) {
        int t = k.size(2);
        if (length + t > capacity) {
            throw new IllegalStateException("KV cache full: " + length + " + " + t + " positions exceed its capacity " + capacity);
        }
        Tensor kd = Views.slice(keys[layer], 2, length, length + t);
        Tensor vd = Views.slice(values[layer], 2, length, length + t);
        k.backend().copy(k, kd);
        v.backend().copy(v, vd);
        return new Tensor[] {Views.slice(keys[layer], 2, 0, length + t), Views.slice(values[layer], 2, 0, length + t)};
    }

    /** Views of everything {@code layer} has cached: {keys, values} [batch, kvHeads, length, headDim]. */
    public Tensor[] cached(int layer) {
        return new Tensor[] {Views.slice(keys[layer], 2, 0, length), Views.slice(values[layer], 2, 0, length)};
    }

    /** Marks {@code t} more positions as cached, after every layer has appended them. */
    public void advance(int t) {
        length += t;
    }
}
