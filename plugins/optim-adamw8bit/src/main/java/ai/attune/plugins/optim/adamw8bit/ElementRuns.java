package ai.attune.plugins.optim.adamw8bit;

import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Tensor;

import java.lang.foreign.MemorySegment;

/**
 * Moves runs of a contiguous tensor's elements in and out of Java arrays: the 8-bit update reads
 * codes, looks them up and writes new ones, which no backend kernel does, so it runs in Java on
 * one run of whole blocks at a time instead of copying a whole parameter out. Half-precision
 * values widen to float32 exactly and narrow back with round-to-nearest-even.
 */
final class ElementRuns {
    private ElementRuns() {}

    /** Elements [start, start + len) of contiguous {@code t} as a flat view of its storage. */
    private static Tensor run(Tensor t, long start, int len) {
        return t.asStrided(new int[] {len}, new long[] {1}, t.offset() + start);
    }

    /** Reads {@code len} elements from {@code start} into {@code out} as float32; {@code half} is scratch for bf16 and f16. */
    static void readFloats(Tensor t, long start, int len, float[] out, short[] half) {
        Tensor r = run(t, start, len);
        FloatType type = FloatType.of(t.dtype());
        if (type == FloatType.F32) {
            t.backend().copyToBytes(r, exact(MemorySegment.ofArray(out), len, 4));
            return;
        }
        t.backend().copyToBytes(r, exact(MemorySegment.ofArray(half), len, 2));
        for (int i = 0; i < len; i++) {
            out[i] = type == FloatType.BF16 ? DType.bf16ToFloat(half[i]) : Float.float16ToFloat(half[i]);
        }
    }

    /** Writes {@code len} float32 values to {@code t} from {@code start}, rounded to its dtype. */
    static void writeFloats(float[] in, Tensor t, long start, int len, short[] half) {
        Tensor r = run(t, start, len);
        FloatType type = FloatType.of(t.dtype());
        if (type == FloatType.F32) {
            t.backend().copyFromBytes(exact(MemorySegment.ofArray(in), len, 4), r);
            return;
        }
        for (int i = 0; i < len; i++) {
            half[i] = type == FloatType.BF16 ? DType.floatToBf16(in[i]) : Float.floatToFloat16(in[i]);
        }
        t.backend().copyFromBytes(exact(MemorySegment.ofArray(half), len, 2), r);
    }

    /** Reads {@code len} bytes of a u8 tensor from {@code start}. */
    static void readBytes(Tensor t, long start, int len, byte[] out) {
        t.backend().copyToBytes(run(t, start, len), exact(MemorySegment.ofArray(out), len, 1));
    }

    static void writeBytes(byte[] in, Tensor t, long start, int len) {
        t.backend().copyFromBytes(exact(MemorySegment.ofArray(in), len, 1), run(t, start, len));
    }

    /** The first {@code len} elements of an array's segment: the arrays are reused for shorter runs. */
    private static MemorySegment exact(MemorySegment array, int len, int bytes) {
        return array.asSlice(0, (long) len * bytes);
    }
}
