package ai.attune.api.tensor;

/**
 * The memory behind one or more tensors, owned by a backend. A storage is untyped: the tensor
 * that views it gives dtype, shape, strides and offset. Its lifetime is its {@link Scope}'s.
 */
public interface Storage {
    Backend backend();

    /** Size in bytes. */
    long byteSize();

    /** The scope that owns this storage; gradients of a leaf are allocated in its leaf's scope. */
    Scope scope();

    /**
     * Gives the memory back before the scope closes, once nothing will read it again: autograd
     * calls it for activations and gradients backward is done with. Does nothing by default.
     */
    default void release() {}
}
