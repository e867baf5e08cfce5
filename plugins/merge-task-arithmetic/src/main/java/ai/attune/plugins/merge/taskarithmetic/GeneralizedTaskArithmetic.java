package ai.attune.plugins.merge.taskarithmetic;

import ai.attune.api.spi.MergeParameter;
import ai.attune.api.spi.MergeTensor;
import ai.attune.api.spi.Merger;
import ai.attune.api.spi.TensorMerge;

import java.util.ArrayList;
import java.util.List;

/**
 * mergekit's generalised task arithmetic: one {@link Sparsifier} (or none) and one
 * {@link Consensus} rule (or none) make task arithmetic, TIES, DARE and breadcrumbs.
 *
 * <p>Per entry, with τᵢ = Wᵢ − W_base sparsified and wᵢ each model's {@code weight}:
 * {@code mixed = Σ wᵢτᵢ·maskᵢ}, divided by {@code Σ wᵢ·maskᵢ} when {@code normalize} (a zero divisor
 * leaves the sum as it is, which is then 0 under consensus; without consensus a divisor below 1e-8
 * does), times {@code lambda}; the result is {@code W_base + mixed}. Without consensus every mask
 * is 1. Arithmetic is f32 in mergekit's order: τ rounded, each product rounded, sums accumulated
 * model by model.
 */
abstract class GeneralizedTaskArithmetic implements Merger {
    private final Sparsifier sparsifier;
    private final Consensus consensus;
    private final boolean defaultNormalize;
    private final boolean defaultRescale;
    private final String referenceUrl;

    GeneralizedTaskArithmetic(Sparsifier sparsifier, Consensus consensus, boolean defaultNormalize, boolean defaultRescale, String referenceUrl) {
        this.sparsifier = sparsifier;
        this.consensus = consensus;
        this.defaultNormalize = defaultNormalize;
        this.defaultRescale = defaultRescale;
        this.referenceUrl = referenceUrl;
    }

    @Override
    public List<MergeParameter> parameters() {
        List<MergeParameter> p = new ArrayList<>(List.of(MergeParameter.optional("int8_mask", false),
                MergeParameter.optional("normalize", defaultNormalize), MergeParameter.optional("rescale", defaultRescale),
                MergeParameter.optional("lambda", 1.0)));
        if (consensus != null) {
            p.add(MergeParameter.optional("consensus_method", consensus.name().toLowerCase()));
        }
        return p;
    }

    @Override
    public List<MergeParameter> tensorParameters() {
        List<MergeParameter> p = new ArrayList<>(List.of(MergeParameter.required("weight"), MergeParameter.optional("density", 1.0)));
        if (sparsifier != null) {
            p.addAll(sparsifier.parameters());
        }
        return p;
    }

    @Override
    public boolean requiresBaseModel() {
        return true;
    }

    @Override
    public String referenceUrl() {
        return referenceUrl;
    }

    @Override
    public void check(MergeTensor t) {
        if (consensus != null) {
            Consensus.of(t.stringParameter("consensus_method"));
        }
        for (int i = 0; i < t.inputs(); i++) {
            if (i != t.baseIndex() && sparsifier != null) {
                sparsifier.check(t, i);
            }
        }
    }

    @Override
    public TensorMerge begin(MergeTensor t) {
        int b = t.baseIndex();
        int[] models = new int[t.inputs() - 1];
        for (int i = 0, j = 0; i < t.inputs(); i++) {
            if (i != b) {
                models[j++] = i;
            }
        }
        int m = models.length;
        float[] w = new float[m];
        Sparsifier.Sparsification[] sp = new Sparsifier.Sparsification[m];
        boolean rescale = t.booleanParameter("rescale");
        int passes = 0;
        for (int j = 0; j < m; j++) {
            w[j] = (float) t.modelDouble(models[j], "weight");
            sp[j] = sparsifier == null ? Sparsifier.KEEP_ALL : sparsifier.begin(t, models[j], rescale);
            passes = Math.max(passes, sp[j].passes());
        }
        boolean normalize = t.booleanParameter("normalize");
        Consensus consensus = this.consensus == null ? null : Consensus.of(t.stringParameter("consensus_method"));
        float lambda = (float) t.doubleParameter("lambda");
        int allPasses = passes;
        return new TensorMerge() {
            private float[] tau = new float[0];
            private final float[] wt = new float[m];

            @Override
            public int passes() {
                return allPasses;
            }

            @Override
            public void observe(int pass, long offset, float[][] in, int n) {
                if (tau.length < n) {
                    tau = new float[n];
                }
                for (int j = 0; j < m; j++) {
                    if (pass < sp[j].passes()) {
                        float[] x = in[models[j]];
                        for (int e = 0; e < n; e++) {
                            tau[e] = x[e] - in[b][e];
                        }
                        sp[j].observe(pass, tau, n);
                    }
                }
            }

            @Override
            public void endPass(int pass) {
                for (int j = 0; j < m; j++) {
                    if (pass < sp[j].passes()) {
                        sp[j].endPass(pass);
                    }
                }
            }

            @Override
            public void combine(long offset, float[][] in, int n, float[] out) {
                float[] base = in[b];
                for (int e = 0; e < n; e++) {
                    for (int j = 0; j < m; j++) {
                        wt[j] = sp[j].apply(offset + e, in[models[j]][e] - base[e]) * w[j];
                    }
                    float mixed = 0f;
                    float divisor = 0f;
                    if (consensus != null) {
                        float sign = consensus.majority(wt, m);
                        for (int j = 0; j < m; j++) {
                            if (Math.signum(wt[j]) == sign) {
                                mixed += wt[j];
                                divisor += w[j];
                            }
                        }
                        if (divisor == 0f) {
                            divisor = 1f;
                        }
                    } else {
                        for (int j = 0; j < m; j++) {
                            mixed += wt[j];
                            divisor += w[j];
                        }
                        if (Math.abs(divisor) < 1e-8f) {
                            divisor = 1f;
                        }
                    }
                    if (normalize) {
                        mixed /= divisor;
                    }
                    if (lambda != 1f) {
                        mixed *= lambda;
                    }
                    out[e] = base[e] + mixed;
                }
            }
        };
    }
}
