package ai.attune.api.model;

/**
 * A saved adapter's additive update to one base weight, applied element by element as the weight
 * streams past (a merge reads one chunk at a time and never forms the update whole).
 */
public interface WeightUpdate {
    /** The base tensor it adds to, e.g. {@code model.layers.0.self_attn.q_proj.weight}. */
    String weight();

    /** The shape the base tensor must have. */
    long[] storedShape();

    /** Adds the update to stored elements {@code offset..offset+n} (row-major). */
    void addTo(long offset, float[] chunk, int n);
}
