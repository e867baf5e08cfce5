package ai.attune.kernels.jvm;

import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Tensor;

import java.lang.foreign.MemorySegment;

/**
 * Rotary position embedding in the rotate-half convention of HF Llama:
 * {@code out = x * cos + rotate_half(x) * sin} with {@code rotate_half(x) = cat(-x2, x1)}.
 * The angle {@code pos * invFreq[i]} is an f32 product and cos/sin are rounded to the input's
 * dtype before use, as transformers does.
 */
final class Rotary {
    private Rotary() {}

    static void rope(Tensor x, Tensor positions, float[] invFreq, boolean inverse, Tensor out) {
        int[] s = x.shape(); // [batch, heads, seq, headDim]
        if (s.length != 4) {
            throw new IllegalArgumentException("rope needs x [batch, heads, seq, headDim], got " + Indexing.shape(x));
        }
        int batch = s[0], heads = s[1], seq = s[2], d = s[3];
        int half = d / 2;
        if (invFreq.length != half || d % 2 != 0) {
            throw new IllegalArgumentException("rope: headDim " + d + " needs " + half + " inverse frequencies, got " + invFreq.length);
        }
        MemorySegment sx = Elementwise.seg(x), so = Elementwise.seg(out), sp = Elementwise.seg(positions);
        long[] xs = x.strides();
        long[] os = out.strides();
        boolean posBatched = positions.rank() == 2 && positions.size(0) == batch && batch > 1;
        double[] cos = new double[half];
        double[] sin = new double[half];
        for (int b = 0; b < batch; b++) {
            for (int t = 0; t < seq; t++) {
                long pIndex = positions.offset() + (posBatched ? b * positions.stride(0) : 0) + t * positions.stride(-1);
                long pos = Elements.getLong(sp, positions.dtype(), pIndex);
                for (int i = 0; i < half; i++) {
                    float angle = (float) pos * invFreq[i];
                    cos[i] = round(Math.cos(angle), x.dtype());
                    sin[i] = round(Math.sin(angle), x.dtype()) * (inverse ? -1 : 1);
                }
                for (int h = 0; h < heads; h++) {
                    long xb = x.offset() + b * xs[0] + h * xs[1] + t * xs[2];
                    long ob = out.offset() + b * os[0] + h * os[1] + t * os[2];
                    for (int i = 0; i < half; i++) {
                        double x1 = Elements.get(sx, x.dtype(), xb + i * xs[3]);
                        double x2 = Elements.get(sx, x.dtype(), xb + (i + half) * xs[3]);
                        Elements.set(so, out.dtype(), ob + i * os[3], x1 * cos[i] - x2 * sin[i]);
                        Elements.set(so, out.dtype(), ob + (i + half) * os[3], x2 * cos[i] + x1 * sin[i]);
                    }
                }
            }
        }
    }

    private static double round(double v, DType t) {
        return switch (t) {
            case F64 -> v;
            case BF16 -> Elements.bf16ToFloat(Elements.floatToBf16((float) v));
            case F16 -> Float.float16ToFloat(Float.floatToFloat16((float) v));
            default -> (float) v;
        };
    }
}
