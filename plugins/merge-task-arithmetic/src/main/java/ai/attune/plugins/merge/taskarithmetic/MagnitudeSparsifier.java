package ai.attune.plugins.merge.taskarithmetic;

import ai.attune.api.spi.MergeParameter;
import ai.attune.api.spi.MergeTensor;

import java.util.List;

/**
 * Sparsification by magnitude, as mergekit's {@code magnitude} (TIES, Yadav et al. 2023) and
 * {@code magnitude_outliers} (Model Breadcrumbs, Davari and Belilovsky 2023).
 *
 * <ul>
 *   <li>{@code magnitude}: keep the {@code k = int(density·numel)} largest {@code |τ|}.</li>
 *   <li>{@code magnitude_outliers}: first drop the {@code int(gamma·numel)} largest, then the
 *       smallest, so that {@code int(density·numel)} remain; when fewer large ones can go, fewer go.
 *       As mergekit's slice {@code indices[n_bot:-n_top]}, a tensor too small for one outlier
 *       ({@code int(gamma·numel) = 0}) keeps nothing.</li>
 * </ul>
 * Kept entries form a range of positions in the stable ascending order of {@code |τ|}; between equal
 * magnitudes, the later element ranks higher. With {@code rescale} the kept entries are scaled so
 * the L1 norm of τ is preserved (mergekit's {@code RescaleNorm.l1}, skipped when either norm is
 * below 1e-7). Found in two streaming passes ({@link MagnitudeRank}), three with rescale.
 */
final class MagnitudeSparsifier implements Sparsifier {
    private static final double EPS = 1e-7;
    private final boolean outliers;

    MagnitudeSparsifier(boolean outliers) {
        this.outliers = outliers;
    }

    @Override
    public List<MergeParameter> parameters() {
        return outliers ? List.of(MergeParameter.optional("gamma", 0.01)) : List.of();
    }

    @Override
    public void check(MergeTensor t, int input) {
        double density = Sparsifier.density(t, input);
        long k = (long) (density * t.numel());
        if (!outliers && density < 1 && k <= 0) {
            throw new IllegalArgumentException("density " + density + " keeps no entry of " + t.numel()
                    + " (int(density·numel) = 0); raise density");
        }
        if (outliers && !(t.modelDouble(input, "gamma") >= 0)) {
            throw new IllegalArgumentException("gamma must be >= 0, got " + t.modelDouble(input, "gamma"));
        }
    }

    @Override
    public Sparsification begin(MergeTensor t, int input, boolean rescale) {
        double density = Sparsifier.density(t, input);
        if (density >= 1) {
            return KEEP_ALL;
        }
        long numel = t.numel();
        long keep = (long) (density * numel);
        long lo;
        long hi;
        if (outliers) {
            long top = (long) (t.modelDouble(input, "gamma") * numel);
            long bottom = numel - keep - top;
            if (bottom < 0) {
                top += bottom;
                bottom = 0;
            }
            lo = bottom;
            hi = top == 0 ? bottom : numel - top; // indices[n_bot:-0] is empty
        } else {
            lo = numel - keep;
            hi = numel;
        }
        return new Range(Math.min(lo, numel), Math.max(Math.min(hi, numel), 0), numel, rescale);
    }

    /** Keeps the entries at stable ascending positions {@code [lo, hi)}. */
    private static final class Range implements Sparsification {
        private final long lo;
        private final long hi;
        private final boolean rescale;
        private final MagnitudeRank rank;
        private final boolean hasLo;
        private final boolean hasHi;
        private final boolean none;
        private long equalLo;
        private long equalHi;
        private double before;
        private double after;
        private float factor = 1f;

        Range(long lo, long hi, long numel, boolean rescale) {
            this.lo = lo;
            this.hi = hi;
            this.rescale = rescale;
            none = hi <= lo;
            hasLo = !none && lo > 0;
            hasHi = !none && hi < numel;
            long[] targets = hasLo && hasHi ? new long[] {lo, hi} : hasLo ? new long[] {lo} : hasHi ? new long[] {hi} : new long[0];
            rank = new MagnitudeRank(targets);
        }

        @Override
        public int passes() {
            return none ? 0 : rescale ? 3 : 2;
        }

        @Override
        public void observe(int pass, float[] tau, int n) {
            switch (pass) {
                case 0 -> rank.countHigh(tau, n);
                case 1 -> rank.countLow(tau, n);
                default -> {
                    for (int e = 0; e < n; e++) {
                        float m = Math.abs(tau[e]);
                        before += m;
                        if (kept(m)) {
                            after += m;
                        }
                    }
                }
            }
        }

        @Override
        public void endPass(int pass) {
            switch (pass) {
                case 0 -> rank.endHigh();
                case 1 -> rank.endLow();
                default -> {
                    float b = (float) before;
                    float a = (float) after;
                    factor = b < EPS || a < EPS ? 1f : b / a;
                    equalLo = 0;
                    equalHi = 0;
                }
            }
        }

        @Override
        public float apply(long index, float tau) {
            if (none) {
                return 0f;
            }
            return kept(Math.abs(tau)) ? tau * factor : 0f;
        }

        /** Whether the next element in index order, of magnitude {@code m}, is in {@code [lo, hi)}. */
        private boolean kept(float m) {
            boolean aboveLo = true;
            boolean belowHi = true;
            if (hasLo) {
                float v = rank.value(0);
                aboveLo = m > v || m == v && rank.less(0) + equalLo++ >= lo;
            }
            if (hasHi) {
                int t = hasLo ? 1 : 0;
                float v = rank.value(t);
                belowHi = m < v || m == v && rank.less(t) + equalHi++ < hi;
            }
            return aboveLo && belowHi;
        }
    }
}
