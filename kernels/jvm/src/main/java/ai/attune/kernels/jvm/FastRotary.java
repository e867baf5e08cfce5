package ai.attune.kernels.jvm;

import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Tensor;
import ai.attune.kernels.jvm.parallel.Parallel;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.concurrent.ExecutorService;

/**
 * Vector API rotary embedding on f32 tensors whose head dim is contiguous, parallel over rows of
 * one (batch, head, position), with cos and sin looked up in {@link RopeTables}. The rotation
 * runs in double as {@link Rotary} does: the products of two floats are exact there and the sum is
 * rounded once to double, then to f32, so the result is the reference's, bit for bit. Returns
 * false for any other case (other dtypes, strided head dims, negative positions, tables too large),
 * which then takes {@link Rotary}.
 */
final class FastRotary {
    private static final VectorSpecies<Double> D = DoubleVector.SPECIES_PREFERRED;
    /** As many floats as D has doubles, so a float load widens into one double vector. */
    private static final VectorSpecies<Float> H = VectorSpecies.of(float.class, VectorShape.forBitSize(D.vectorBitSize() / 2));
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    private FastRotary() {}

    // x, out: [batch, heads, seq, headDim]; positions: [batch, seq] or [1, seq]; invFreq: [headDim / 2]
    static boolean rope(Tensor x, Tensor positions, float[] invFreq, boolean inverse, Tensor out, RopeTables tables,
                        ExecutorService pool, int workers) {
        if (x.rank() != 4 || out.rank() != 4 || x.dtype() != DType.F32 || out.dtype() != DType.F32
                || !java.util.Arrays.equals(x.shape(), out.shape()) || positions.dtype().isFloatingPoint()) {
            return false;
        }
        int batch = x.size(0), heads = x.size(1), seq = x.size(2), d = x.size(3);
        int half = d / 2;
        if (d % 2 != 0 || half == 0 || invFreq.length != half || x.stride(3) != 1 || out.stride(3) != 1) {
            return false;
        }
        // The same position lookup as the reference: [batch, seq] when batched, else row 0 for every batch.
        boolean posBatched = positions.rank() == 2 && positions.size(0) == batch && batch > 1;
        MemorySegment sp = Elementwise.seg(positions);
        int posRows = posBatched ? batch : 1;
        int[] pos = new int[posRows * seq];
        long maxPos = 0;
        for (int b = 0; b < posRows; b++) {
            for (int t = 0; t < seq; t++) {
                long p = Elements.getLong(sp, positions.dtype(), positions.offset() + b * positions.stride(0) + t * positions.stride(-1));
                if (p < 0) {
                    return false;
                }
                maxPos = Math.max(maxPos, p);
                pos[b * seq + t] = (int) Math.min(p, Integer.MAX_VALUE);
            }
        }
        RopeTables.Table table = tables.covering(invFreq, maxPos);
        if (table == null) {
            return false;
        }
        MemorySegment sx = Elementwise.seg(x), so = Elementwise.seg(out);
        long[] xs = x.strides(), os = out.strides();
        int rows = batch * heads * seq;
        int perUnit = Math.max(1, FastActivations.CHUNK / d);
        Parallel.forEach(pool, workers, (rows + perUnit - 1) / perUnit, () -> null, s -> {}, (u, s) -> {
            for (int r = u * perUnit; r < Math.min(rows, (u + 1) * perUnit); r++) {
                int b = r / (heads * seq), h = r / seq % heads, t = r % seq;
                long xb = (x.offset() + b * xs[0] + h * xs[1] + t * xs[2]) * 4;
                long ob = (out.offset() + b * os[0] + h * os[1] + t * os[2]) * 4;
                rotate(sx, xb, so, ob, table, pos[(posBatched ? b * seq : 0) + t], inverse);
            }
        });
        return true;
    }

    /** out = x * cos + rotate_half(x) * sin for one row: (x1, x2) -> (x1 c - x2 s, x2 c + x1 s). */
    private static void rotate(MemorySegment sx, long xb, MemorySegment so, long ob, RopeTables.Table table, int pos, boolean inverse) {
        int half = table.half();
        float[] cos = table.cos(), sin = table.sin();
        int tb = pos * half;
        long hb = half * 4L;
        int bound = H.loopBound(half);
        int i = 0;
        for (; i < bound; i += H.length()) {
            DoubleVector x1 = widen(FloatVector.fromMemorySegment(H, sx, xb + i * 4L, LE));
            DoubleVector x2 = widen(FloatVector.fromMemorySegment(H, sx, xb + hb + i * 4L, LE));
            DoubleVector c = widen(FloatVector.fromArray(H, cos, tb + i));
            DoubleVector sn = widen(FloatVector.fromArray(H, sin, tb + i));
            if (inverse) {
                sn = sn.neg();
            }
            narrow(x1.mul(c).sub(x2.mul(sn))).intoMemorySegment(so, ob + i * 4L, LE);
            narrow(x2.mul(c).add(x1.mul(sn))).intoMemorySegment(so, ob + hb + i * 4L, LE);
        }
        for (; i < half; i++) {
            double x1 = sx.get(Elements.F32, xb + i * 4L);
            double x2 = sx.get(Elements.F32, xb + hb + i * 4L);
            double c = cos[tb + i];
            double sn = inverse ? -sin[tb + i] : sin[tb + i];
            so.set(Elements.F32, ob + i * 4L, (float) (x1 * c - x2 * sn));
            so.set(Elements.F32, ob + hb + i * 4L, (float) (x2 * c + x1 * sn));
        }
    }

    private static DoubleVector widen(FloatVector v) {
        return (DoubleVector) v.convertShape(VectorOperators.F2D, D, 0);
    }

    private static FloatVector narrow(DoubleVector v) {
        return (FloatVector) v.convertShape(VectorOperators.D2F, H, 0);
    }
}
