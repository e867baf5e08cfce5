package ai.attune.kernels.jvm;

import ai.attune.kernels.jvm.parallel.Parallel;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.nio.ByteOrder;
import java.util.concurrent.ExecutorService;

/**
 * The AdamW step as one Vector API pass over contiguous f32 p, g, m, v (and v_max), parallel over
 * fixed chunks of {@link #CHUNK} elements. Every lane runs {@link AdamW}'s op sequence with the
 * same f32 rounding after each op (no multiply-add is fused), and no element depends on another,
 * so the result is the reference's bit for bit whatever the vector width or thread count.
 */
final class FastAdamW {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    /** Elements per parallel unit: 64 KiB of each of the four or five streams. */
    static final int CHUNK = 1 << 14;

    private FastAdamW() {}

    /** The step over all of {@code o}'s elements. */
    static void update(AdamW.Scalars s, AdamW.Operands o, ExecutorService pool, int workers) {
        long n = o.n();
        int chunks = Math.toIntExact((n + CHUNK - 1) / CHUNK);
        Parallel.forEach(pool, workers, chunks, () -> null, x -> {}, (c, x) -> {
            long from = (long) c * CHUNK;
            long to = Math.min(n, from + CHUNK);
            long i = from;
            for (long bound = from + (to - from) / F.length() * F.length(); i < bound; i += F.length()) {
                lanes(s, o, i * 4);
            }
            AdamW.update(s, o, i, to);
        });
    }

    /** One vector of elements from byte offset b (relative to each tensor's start). */
    private static void lanes(AdamW.Scalars s, AdamW.Operands o, long b) {
        FloatVector g = FloatVector.fromMemorySegment(F, o.g(), o.go() + b, LE);
        if (s.maximize()) {
            g = g.neg();
        }
        FloatVector p = FloatVector.fromMemorySegment(F, o.p(), o.po() + b, LE);
        if (s.decays()) {
            p = p.mul(s.decay());
        }
        FloatVector m = FloatVector.fromMemorySegment(F, o.m(), o.mo() + b, LE);
        FloatVector d = g.sub(m);
        m = s.lerpSmall() ? m.add(d.mul(s.weight())) : g.sub(d.mul(s.oneMinusWeight()));
        FloatVector v = FloatVector.fromMemorySegment(F, o.v(), o.vo() + b, LE).mul(s.beta2()).add(g.mul(s.oneMinusBeta2()).mul(g));
        FloatVector second = v;
        if (o.vmax() != null) {
            second = FloatVector.fromMemorySegment(F, o.vmax(), o.vmo() + b, LE).max(v); // Math.max's NaN and signed-zero rules
            second.intoMemorySegment(o.vmax(), o.vmo() + b, LE);
        }
        FloatVector denom = second.sqrt().div(s.bc2Sqrt()).add(s.eps());
        p = p.add(m.mul(s.negStepSize()).div(denom));
        m.intoMemorySegment(o.m(), o.mo() + b, LE);
        v.intoMemorySegment(o.v(), o.vo() + b, LE);
        p.intoMemorySegment(o.p(), o.po() + b, LE);
    }
}
