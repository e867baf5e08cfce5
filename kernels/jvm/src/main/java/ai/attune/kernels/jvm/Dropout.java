package ai.attune.kernels.jvm;

import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Tensor;
import ai.attune.kernels.jvm.parallel.Parallel;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.concurrent.ExecutorService;

/**
 * Inverted dropout whose keep-mask is a pure function of (seed, element index): a SplitMix64 hash
 * of the index, so the mask is the same however the work is split across threads and a resumed
 * run reproduces it from the saved seed.
 */
final class Dropout {
    private Dropout() {}

    /** Elements per parallel unit of the f32 path. */
    private static final int CHUNK = 16384;

    /**
     * The reference's values for contiguous f32 x and out and a contiguous mask, over the pool in
     * fixed units (each element's mask is its own hash, so any split gives the same bits); false
     * for other layouts.
     */
    static boolean dropoutF32(Tensor x, double p, long seed, Tensor out, Tensor mask, ExecutorService pool, int workers) {
        if (x.dtype() != DType.F32 || out.dtype() != DType.F32 || !x.isContiguous() || !out.isContiguous() || !mask.isContiguous()
                || !Arrays.equals(out.shape(), x.shape())) {
            return false;
        }
        double scale = p >= 1 ? 0.0 : 1.0 / (1.0 - p);
        long n = x.numel();
        MemorySegment sx = Elementwise.seg(x), so = Elementwise.seg(out), sm = Elementwise.seg(mask);
        long xo = x.offset() * 4, oo = out.offset() * 4, mo = mask.offset();
        Parallel.forEach(pool, workers, FastElementwise.units(n, CHUNK), () -> null, z -> {}, (c, z) -> {
            long from = (long) c * CHUNK;
            long to = Math.min(n, from + CHUNK);
            for (long i = from; i < to; i++) {
                boolean keep = uniform(seed, i) >= p;
                sm.set(ValueLayout.JAVA_BYTE, mo + i, (byte) (keep ? 1 : 0));
                so.set(Elements.F32, oo + i * 4, keep ? (float) (sx.get(Elements.F32, xo + i * 4) * scale) : 0f);
            }
        });
        return true;
    }

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
