package ai.attune.api.io;

import ai.attune.api.tensor.DType;
import java.util.Arrays;
import java.util.Objects;

/**
 * One tensor's header entry.
 *
 * @param name  the tensor's name in the header
 * @param dtype element type
 * @param shape dimensions, row-major; {@code []} is a scalar of one element
 * @param begin first byte, relative to the start of the file's data buffer (as in the header)
 * @param end   one past the last byte, relative to the data buffer
 */
public record TensorInfo(String name, DType dtype, long[] shape, long begin, long end) {

    public TensorInfo {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(dtype, "dtype");
        shape = shape.clone(); // records with arrays must copy to stay immutable
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    /** Number of elements: the product of the shape (1 for a scalar, 0 when any dim is 0). */
    public long elementCount() {
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    /** Bytes of data, {@code end - begin}. */
    public long byteSize() {
        return end - begin;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorInfo t && name.equals(t.name) && dtype == t.dtype
                && Arrays.equals(shape, t.shape) && begin == t.begin && end == t.end;
    }

    @Override
    public int hashCode() {
        return Objects.hash(name, dtype, Arrays.hashCode(shape), begin, end);
    }

    @Override
    public String toString() {
        return "TensorInfo[" + name + " " + dtype + " " + Arrays.toString(shape) + " @[" + begin + ", " + end + ")]";
    }
}
