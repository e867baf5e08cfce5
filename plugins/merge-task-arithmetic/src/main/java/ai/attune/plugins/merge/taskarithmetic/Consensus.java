package ai.attune.plugins.merge.taskarithmetic;

/**
 * TIES' sign election (mergekit's {@code get_mask}): per entry, the majority sign of the weighted
 * task vectors {@code wᵢτᵢ}, and only entries of that sign take part. An exact tie counts as +1.
 * A pruned entry (0) has sign 0 and never takes part.
 */
enum Consensus {
    /** Majority sign = sign(Σ wᵢτᵢ), the TIES paper's rule. */
    SUM,
    /** Majority sign = sign(Σ sign(wᵢτᵢ)), a plain count. */
    COUNT;

    /** {@code consensus_method}: {@code sum} or {@code count}. */
    static Consensus of(String name) {
        return switch (name) {
            case "sum" -> SUM;
            case "count" -> COUNT;
            default -> throw new IllegalArgumentException("consensus_method must be sum or count, got '" + name + "'");
        };
    }

    /** +1 or -1 for the weighted task-vector entries {@code wt[0..m)}. */
    float majority(float[] wt, int m) {
        float s = 0f;
        for (int j = 0; j < m; j++) {
            s += this == SUM ? wt[j] : Math.signum(wt[j]);
        }
        return s >= 0 ? 1f : -1f;
    }
}
