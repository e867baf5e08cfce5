package ai.attune.kernels.torch;

import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Shape;
import ai.attune.api.tensor.Tensor;

import static ai.attune.kernels.torch.Aten.as;
import static ai.attune.kernels.torch.Aten.view;

/**
 * Rotary position embedding, rotate-half convention (HF Llama):
 * {@code out = x * cos + rotate_half(x) * sin}. As in transformers, the angle {@code p * invFreq[i]}
 * is an f32 product and cos/sin are rounded to x's dtype before use; the rotation itself runs in
 * f32 (f64 for f64) and rounds once into out.
 */
final class Rotary {
    private Rotary() {}

    static void rope(Tensor x, Tensor positions, float[] invFreq, boolean inverse, Tensor out) {
        int[] s = x.shape(); // [batch, heads, seq, headDim]
        if (s.length != 4) {
            throw new IllegalArgumentException("rope needs x [batch, heads, seq, headDim], got " + Shape.str(s));
        }
        int batch = s[0], seq = s[2], d = s[3];
        int half = d / 2;
        if (invFreq.length != half || d % 2 != 0) {
            throw new IllegalArgumentException("rope: headDim " + d + " needs " + half + " inverse frequencies, got " + invFreq.length);
        }
        Aten.checkShape(out, s, "rope", "out");
        // positions [batch, seq], or one row shared by the whole batch.
        boolean perBatch = positions.rank() == 2 && positions.size(0) == batch && batch > 1;
        Tensor pos = perBatch ? positions
                : positions.asStrided(new int[] {1, seq}, new long[] {0, positions.stride(-1)}, positions.offset());
        var angle = as(view(pos), DType.F32).unsqueeze(-1).mul(Aten.floats(invFreq)); // [b|1, seq, half], an f32 product
        DType acc = Aten.accumulation(x);
        // cos/sin in f64 (Math.cos's accuracy), rounded to x's dtype as transformers' cos.to(x.dtype).
        var wide = as(angle, DType.F64).unsqueeze(1); // [b|1, 1, seq, half]
        var cos = as(as(wide.cos(), x.dtype()), acc);
        var sin = as(as(wide.sin(), x.dtype()), acc);
        if (inverse) {
            sin = sin.neg();
        }
        var v = view(x);
        var x1 = as(v.narrow(-1, 0, half), acc); // [batch, heads, seq, half]
        var x2 = as(v.narrow(-1, half, half), acc);
        // Both halves are computed before either is written, so out may be x itself.
        var o1 = x1.mul(cos).sub(x2.mul(sin));
        var o2 = x2.mul(cos).add(x1.mul(sin));
        var o = view(out);
        o.narrow(-1, 0, half).copy_(o1);
        o.narrow(-1, half, half).copy_(o2);
    }
}
