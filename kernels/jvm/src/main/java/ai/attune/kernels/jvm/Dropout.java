package ai.attune.kernels.jvm;

import ai.attune.api.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Inverted dropout whose keep-mask is a pure function of (seed, element index): a SplitMix64 hash
 * of the index, so the mask is the same however the work is split across threads and a resumed
 * run reproduces it from the saved seed.
 */
final class Dropout {
    private Dropout() {}

    static void dropout(Tensor x, double p, long seed, Tensor out, Tensor mask) {
        Elementwise.checkOut(out, x.shape(), "dropout");
        double scale = p >= 1 ? 0.0 : 1.0 / (1.0 - p);
        RowIterator it = RowIterator.of(x.shape(), x);
        MemorySegment sx = Elementwise.seg(x), so = Elementwise.seg(out), sm = Elementwise.seg(mask);
        long step = it.innerStride(0);
        int n = it.rowLength();
        long flat = 0;
        while (it.next()) {
            long ix = it.base(0);
            for (int j = 0; j < n; j++, ix += step, flat++) {
                boolean keep = uniform(seed, flat) >= p;
                sm.set(ValueLayout.JAVA_BYTE, mask.offset() + flat, (byte) (keep ? 1 : 0));
                double v = keep ? Elements.get(sx, x.dtype(), ix) * scale : 0.0;
                Elements.set(so, out.dtype(), out.offset() + flat, v);
            }
        }
    }

    /** A uniform double in [0, 1) from (seed, index). */
    static double uniform(long seed, long index) {
        long z = seed + (index + 1) * 0x9E3779B97F4A7C15L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        z = z ^ (z >>> 31);
        return (z >>> 11) * 0x1.0p-53;
    }
}
