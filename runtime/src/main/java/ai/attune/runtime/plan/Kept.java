package ai.attune.runtime.plan;

import ai.attune.runtime.plan.TrainingSetup.Precision;

import java.util.List;

/**
 * One tensor the training step allocates: what it is, its element count, and how the precision
 * sets its element type. Its bytes are what the tensor service hands out for it: the block pool
 * rounds every storage up to 512 bytes.
 */
public record Kept(String what, long elements, Type type, Role role) {
    /** The pool's granule ({@code BlockPool}): no storage takes less, and every one a multiple. */
    static final long GRANULE = 512;

    /** How long it lives. */
    public enum Role {
        /** Kept until backward has used it (on the tape) or the micro-batch ends (off it). */
        ACTIVATION,
        /** A low-precision copy of a weight that autocast makes for one product, kept as an activation is. */
        WEIGHT_CAST,
        /** Freed by the op that made it: the f32 accumulator of a low-precision matrix product. */
        TRANSIENT,
        /** Off the tape (inputs, statistics a backward closure holds, dropout masks): freed when the micro-batch ends. */
        SCOPED
    }

    /** An activation. */
    public Kept(String what, long elements, Type type) {
        this(what, elements, type, Role.ACTIVATION);
    }

    /** Element types as precision decides them. */
    public enum Type {
        /** Always f32: norms, residual sums, softmax statistics, the loss, master weights and their gradients. */
        F32,
        /** A matrix product or attention output, and elementwise ops on one: bf16/fp16 under autocast, else f32. */
        PRODUCT,
        /** A copy autocast makes to feed a product in low precision; none in fp32. */
        CAST,
        /** A copy autocast makes back up to f32 (softmax, norms, cross-entropy inputs); none in fp32. */
        WIDEN,
        /** Token ids, positions, targets, masks. */
        I64,
        /** Dropout masks. */
        U8,
        /** The f32 result a low-precision product is accumulated in before it is rounded; none in fp32. */
        ACCUMULATOR;

        int bytes(Precision p) {
            return switch (this) {
                case F32 -> 4;
                case PRODUCT -> p.autocast() ? 2 : 4;
                case CAST -> p.autocast() ? 2 : 0;
                case WIDEN -> p.autocast() ? 4 : 0;
                case I64 -> 8;
                case U8 -> 1;
                case ACCUMULATOR -> p.autocast() ? 4 : 0;
            };
        }
    }

    /** Bytes of storage under {@code precision}; 0 for a copy this precision does not make. */
    public long bytes(Precision precision) {
        return granule(elements * type.bytes(precision));
    }

    /** {@code bytes} as the pool rounds them: 0 stays 0 (no tensor), else at least one granule. */
    static long granule(long bytes) {
        return bytes == 0 ? 0 : (bytes + GRANULE - 1) / GRANULE * GRANULE;
    }

    /** Bytes alive at once after {@code tensors} were made: all but the transients. */
    static long total(List<Kept> tensors, Precision precision) {
        return tensors.stream().filter(k -> k.role() != Role.TRANSIENT).mapToLong(k -> k.bytes(precision)).sum();
    }

    /** Bytes of the weight casts among {@code tensors}. */
    static long casts(List<Kept> tensors, Precision precision) {
        return tensors.stream().filter(k -> k.role() == Role.WEIGHT_CAST).mapToLong(k -> k.bytes(precision)).sum();
    }
}
