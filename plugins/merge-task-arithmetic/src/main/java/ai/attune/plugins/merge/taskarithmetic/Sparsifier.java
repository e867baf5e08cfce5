package ai.attune.plugins.merge.taskarithmetic;

import ai.attune.api.spi.MergeParameter;
import ai.attune.api.spi.MergeTensor;

import java.util.List;

/**
 * How a task vector τ = W − W_base is thinned before mixing, mergekit's
 * {@code SparsificationMethod}: by magnitude (TIES), at random (DARE), or by magnitude without the
 * largest outliers (breadcrumbs). One per model and tensor.
 */
interface Sparsifier {
    /** Per-model parameters beyond {@code weight} and {@code density}. */
    default List<MergeParameter> parameters() {
        return List.of();
    }

    /** Refuses parameters this sparsifier cannot honour for input {@code input}. */
    void check(MergeTensor t, int input);

    Sparsification begin(MergeTensor t, int input, boolean rescale);

    /** The thinning of one model's τ over one tensor. */
    interface Sparsification {
        /** Statistics passes over τ before {@link #apply} (0 for none). */
        default int passes() {
            return 0;
        }

        default void observe(int pass, float[] tau, int n) {}

        default void endPass(int pass) {}

        /** The kept (and rescaled) value of τ at element {@code index}, or 0; called in element order. */
        float apply(long index, float tau);
    }

    /** The identity, for {@code density >= 1}, as mergekit returns the tensor untouched. */
    Sparsification KEEP_ALL = (index, tau) -> tau;

    static double density(MergeTensor t, int input) {
        double d = t.modelDouble(input, "density");
        if (!(d >= 0)) {
            throw new IllegalArgumentException("density must be in [0, 1], got " + d);
        }
        return d;
    }
}
