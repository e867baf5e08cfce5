package ai.attune.kernels.torch;

import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.NativeStorage;
import ai.attune.api.tensor.Shape;
import ai.attune.api.tensor.Tensor;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * The bridge between Attune tensors and ATen: zero-copy {@code at::Tensor} views of host-memory
 * tensors (this backend's or any other {@link NativeStorage}, such as the jvm backend's), and the
 * dtype mapping.
 *
 * <p>Every ATen object made here is a JavaCPP pointer with a deallocator, so callers create them
 * inside a {@link org.bytedeco.javacpp.PointerScope} and they are freed when the kernel returns.
 */
final class Aten {
    private Aten() {}

    /**
     * An ATen view of {@code t}'s elements: same sizes, strides and dtype, no copy. The view does
     * not own the memory (from_blob without a deleter): the tensor's scope does, and the view must
     * not outlive the kernel call that made it.
     */
    static org.bytedeco.pytorch.Tensor view(Tensor t) {
        long address = segment(t).address() + t.offset() * t.dtype().byteSize();
        return torch.from_blob(at(address), longs(t.shape()), t.strides(), options(t.dtype()));
    }

    /** The host memory behind {@code t}, whichever backend allocated it. */
    static MemorySegment segment(Tensor t) {
        if (!(t.storage() instanceof NativeStorage s)) {
            throw new IllegalArgumentException("the torch backend on cpu reads host memory only; " + t + " lives in "
                    + t.storage().getClass().getSimpleName() + " of backend " + t.backend().name() + ": copy it to the cpu first");
        }
        return s.segment();
    }

    /**
     * A JavaCPP pointer to a raw address; JavaCPP offers no public factory, so a subclass sets the
     * protected field. (The parameter must not be called {@code address}: inside the subclass that
     * name means the field.)
     */
    private static Pointer at(long raw) {
        return new Pointer() {
            {
                address = raw;
            }
        };
    }

    static ScalarType scalarType(DType t) {
        return switch (t) {
            case F32 -> ScalarType.Float;
            case F64 -> ScalarType.Double;
            case BF16 -> ScalarType.BFloat16;
            case F16 -> ScalarType.Half;
            case I64 -> ScalarType.Long;
            case I32 -> ScalarType.Int;
            case U8 -> ScalarType.Byte;
            case BOOL -> ScalarType.Bool;
        };
    }

    static TensorOptions options(DType t) {
        return new TensorOptions(scalarType(t));
    }

    static Scalar scalar(double v) {
        return new Scalar(v);
    }

    /** An integral scalar: compared with an i64 tensor it keeps the comparison in i64, not f32. */
    static Scalar scalar(long v) {
        return new Scalar(v);
    }

    /**
     * The type that math on these operands runs in: f64 when any is f64, else f32. bf16 and f16
     * operands are widened once, so a composite formula rounds once, into the output, as the jvm
     * reference's double arithmetic does, instead of after every intermediate.
     */
    static DType accumulation(Tensor... ts) {
        for (Tensor t : ts) {
            if (t != null && t.dtype() == DType.F64) {
                return DType.F64;
            }
        }
        return DType.F32;
    }

    /** {@code t.to(dtype)}: t itself when it already has the dtype. */
    static org.bytedeco.pytorch.Tensor as(org.bytedeco.pytorch.Tensor t, DType dtype) {
        return t.to(scalarType(dtype));
    }

    /** An f32 tensor [values.length] holding a copy of {@code values}. */
    static org.bytedeco.pytorch.Tensor floats(float[] values) {
        FloatPointer p = new FloatPointer(values);
        return torch.from_blob(p, new long[] {values.length}, options(DType.F32)).clone();
    }

    static long[] longs(int... dims) {
        return Arrays.stream(dims).asLongStream().toArray();
    }

    static void checkShape(Tensor t, int[] shape, String op, String name) {
        if (!Arrays.equals(t.shape(), shape)) {
            throw new IllegalArgumentException(op + ": " + name + " has shape " + Shape.str(t.shape()) + ", expected " + Shape.str(shape));
        }
    }

    static void requireContiguous(Tensor t, String op, String name) {
        if (!t.isContiguous()) {
            throw new IllegalArgumentException(op + ": " + name + " " + t + " must be contiguous, has strides " + Arrays.toString(t.strides()));
        }
    }
}
