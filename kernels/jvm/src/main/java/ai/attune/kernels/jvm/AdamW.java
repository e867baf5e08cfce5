package ai.attune.kernels.jvm;

import ai.attune.api.tensor.AdamWStep;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.NativeStorage;
import ai.attune.api.tensor.Tensor;

import java.lang.foreign.MemorySegment;

/**
 * The AdamW step in one pass over contiguous f32 p, g, m, v (and v_max), element by element: the
 * scalar reference of {@link FastAdamW}. Each element goes through torch's single-tensor
 * {@code torch.optim.AdamW} ops in their order, rounding to f32 after every one as those ops do,
 * with the scalars rounded to f32 as torch converts a Python float:
 *
 * <pre>
 * p = p * f32(1 - lr * wd)                                  # mul_, when wd != 0
 * m = m + w * (g - m)            if w < 0.5                 # lerp_(g, w), w = f32(1 - beta1)
 *   = g - (g - m) * (1 - w)      otherwise
 * v = v * f32(beta2) + (f32(1 - beta2) * g) * g             # mul_, addcmul_
 * v_max = max(v_max, v)                                     # amsgrad
 * denom = sqrt(v or v_max) / f32(sqrt(bc2)) + f32(eps)      # sqrt, div, add_
 * p = p + (f32(-step_size) * m) / denom                     # addcdiv_
 * </pre>
 *
 * The composed default ({@code Backend.adamwStep}) differs in two places, for want of a
 * tensor-by-scalar division: it multiplies {@code sqrt(v)} by {@code f32(1 / sqrt(bc2))}, and it
 * computes {@code (m / denom) * f32(-step_size)}; each can move the result by an ulp or two.
 * torch's vectorised lerp uses a fused multiply-add where this rounds twice, as torch's scalar
 * lerp (and the composed default) does.
 */
final class AdamW {
    private AdamW() {}

    /** The step's scalars in f32, as the ops receive them. */
    record Scalars(boolean maximize, boolean decays, float decay, boolean lerpSmall, float weight, float oneMinusWeight,
                   float beta2, float oneMinusBeta2, float bc2Sqrt, float eps, float negStepSize) {
        static Scalars of(AdamWStep h) {
            float w = (float) (1 - h.beta1());
            return new Scalars(h.maximize(), h.weightDecay() != 0, (float) (1 - h.lr() * h.weightDecay()),
                    w < 0.5f, w, 1f - w, // 1 - w is exact for w in [0.5, 1]
                    (float) h.beta2(), (float) (1 - h.beta2()), (float) h.biasCorrection2Sqrt(), (float) h.eps(), (float) -h.stepSize());
        }
    }

    /** The memory of one step's tensors, as byte offsets into their segments; vmax is null without amsgrad. */
    record Operands(long n, MemorySegment p, long po, MemorySegment g, long go, MemorySegment m, long mo,
                    MemorySegment v, long vo, MemorySegment vmax, long vmo) {
        /** The operands when every tensor is contiguous f32 host memory of one size, else null. */
        static Operands of(Tensor p, Tensor g, Tensor m, Tensor v, Tensor vmax) {
            long n = p.numel();
            for (Tensor t : new Tensor[] {p, g, m, v, vmax}) {
                if (t != null && (t.dtype() != DType.F32 || !t.isContiguous() || t.numel() != n || !(t.storage() instanceof NativeStorage))) {
                    return null;
                }
            }
            return new Operands(n, Elementwise.seg(p), p.offset() * 4, Elementwise.seg(g), g.offset() * 4, Elementwise.seg(m), m.offset() * 4,
                    Elementwise.seg(v), v.offset() * 4, vmax == null ? null : Elementwise.seg(vmax), vmax == null ? 0 : vmax.offset() * 4);
        }
    }

    /** Elements [from, to): the reference, and the tail of {@link FastAdamW}'s vector loop. */
    static void update(Scalars s, Operands o, long from, long to) {
        for (long i = from; i < to; i++) {
            long b = i * 4;
            float g = o.g().get(Elements.F32, o.go() + b);
            if (s.maximize()) {
                g = -g;
            }
            float p = o.p().get(Elements.F32, o.po() + b);
            if (s.decays()) {
                p = p * s.decay();
            }
            float m = o.m().get(Elements.F32, o.mo() + b);
            float d = g - m;
            m = s.lerpSmall() ? m + s.weight() * d : g - d * s.oneMinusWeight();
            float v = o.v().get(Elements.F32, o.vo() + b) * s.beta2() + s.oneMinusBeta2() * g * g;
            float second = v;
            if (o.vmax() != null) {
                second = Math.max(o.vmax().get(Elements.F32, o.vmo() + b), v);
                o.vmax().set(Elements.F32, o.vmo() + b, second);
            }
            float denom = (float) Math.sqrt(second) / s.bc2Sqrt() + s.eps();
            p = p + s.negStepSize() * m / denom;
            o.m().set(Elements.F32, o.mo() + b, m);
            o.v().set(Elements.F32, o.vo() + b, v);
            o.p().set(Elements.F32, o.po() + b, p);
        }
    }
}
