package ai.attune.api.tensor;

import ai.attune.api.autograd.Node;

import java.util.Arrays;

/**
 * An n-dimensional array: a view (dtype, shape, strides, offset) of a backend {@link Storage},
 * plus the autograd state PyTorch keeps on a tensor ({@code requires_grad}, {@code .grad},
 * {@code grad_fn}).
 *
 * <p>Views share storage: {@link #asStrided} makes transposes, slices and reshapes without
 * copying. Math lives in the backend and, with gradients, in {@code ai.attune.api.autograd.Ops};
 * this class stays a small handle.
 */
public final class Tensor {
    private final Storage storage;
    private final DType dtype;
    private final int[] shape;
    private final long[] strides; // in elements
    private final long offset; // in elements

    private boolean requiresGrad;
    private Tensor grad;
    private Tensor spareGrad;
    private Node gradFn;
    private int outputIndex;
    private String name;

    public Tensor(Storage storage, DType dtype, int[] shape, long[] strides, long offset) {
        if (shape.length != strides.length) {
            throw new IllegalArgumentException("shape " + Shape.str(shape) + " and strides " + Arrays.toString(strides) + " differ in rank");
        }
        this.storage = storage;
        this.dtype = dtype;
        this.shape = shape.clone();
        this.strides = strides.clone();
        this.offset = offset;
    }

    public Tensor(Storage storage, DType dtype, int[] shape) {
        this(storage, dtype, shape, Shape.contiguousStrides(shape), 0);
    }

    public Storage storage() {
        return storage;
    }

    public Backend backend() {
        return storage.backend();
    }

    public Device device() {
        return storage.backend().device();
    }

    public DType dtype() {
        return dtype;
    }

    public int[] shape() {
        return shape.clone();
    }

    public int size(int dim) {
        return shape[Shape.dim(dim, shape.length)];
    }

    public int rank() {
        return shape.length;
    }

    public long numel() {
        return Shape.numel(shape);
    }

    public long[] strides() {
        return strides.clone();
    }

    public long stride(int dim) {
        return strides[Shape.dim(dim, shape.length)];
    }

    /** Offset of the first element in the storage, in elements. */
    public long offset() {
        return offset;
    }

    /** True when elements are laid out row-major with no gaps, so kernels can treat the tensor as a flat array. */
    public boolean isContiguous() {
        if (numel() == 0) {
            return true;
        }
        long expected = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            if (shape[i] != 1 && strides[i] != expected) {
                return false;
            }
            expected *= shape[i];
        }
        return true;
    }

    /** A view on the same storage with another shape, strides and offset. Carries no autograd history. */
    public Tensor asStrided(int[] newShape, long[] newStrides, long newOffset) {
        return new Tensor(storage, dtype, newShape, newStrides, newOffset);
    }

    // ---- autograd state ----

    public boolean requiresGrad() {
        return requiresGrad;
    }

    /** Marks a leaf tensor as one whose gradient is accumulated into {@link #grad()}. */
    public Tensor requiresGrad(boolean value) {
        if (gradFn != null && !value) {
            throw new IllegalStateException("cannot clear requires_grad on a non-leaf tensor; detach() it");
        }
        this.requiresGrad = value;
        return this;
    }

    public Tensor grad() {
        return grad;
    }

    public void setGrad(Tensor grad) {
        this.grad = grad;
    }

    /**
     * Drops the gradient ({@code zero_grad(set_to_none=True)}) but keeps its storage for the next
     * backward: a leaf's gradient lives in the leaf's long-lived scope, where a fresh allocation
     * every step would never be freed before the job ends.
     */
    public void clearGrad() {
        if (grad != null) {
            spareGrad = grad;
            grad = null;
        }
    }

    /** The storage of the last cleared gradient, handed over once (null if none). */
    public Tensor takeSpareGrad() {
        Tensor s = spareGrad;
        spareGrad = null;
        return s;
    }

    /** The node that produced this tensor, or null for a leaf. */
    public Node gradFn() {
        return gradFn;
    }

    /** Which output of {@link #gradFn()} this tensor is. */
    public int outputIndex() {
        return outputIndex;
    }

    /** Attaches history: called by the autograd engine when an op records this tensor as its output. */
    public void setGradFn(Node node, int outputIndex) {
        this.gradFn = node;
        this.outputIndex = outputIndex;
        this.requiresGrad = node != null;
    }

    public boolean isLeaf() {
        return gradFn == null;
    }

    /** A view of the same data without history. */
    public Tensor detach() {
        return asStrided(shape, strides, offset).named(name);
    }

    public String name() {
        return name;
    }

    public Tensor named(String name) {
        this.name = name;
        return this;
    }

    @Override
    public String toString() {
        return "Tensor(" + (name == null ? "" : name + ", ") + dtype + ", " + Shape.str(shape) + ", " + device() + ")";
    }
}
