package ai.attune.plugins.merge.slerp;

import ai.attune.api.spi.MergeParameter;
import ai.attune.api.spi.MergeTensor;
import ai.attune.api.spi.Merger;
import ai.attune.api.spi.TensorMerge;
import org.osgi.service.component.annotations.Component;

import java.util.List;

/**
 * mergekit's {@code slerp}: the base model and one other, interpolated along the great circle
 * between their directions at {@code t} (0 gives the base). Each tensor is one vector: a first pass
 * takes both norms and the dot product, then {@code s0·v0 + s1·v1} with
 * {@code s0 = sin((1-t)θ)/sin θ}, {@code s1 = sin(tθ)/sin θ} and θ the angle between the normalised
 * vectors. Nearly collinear tensors ({@code |cos θ| > 0.9995}) fall back to linear interpolation,
 * {@code (1-t)·v0 + t·v1}, as mergekit does. A norm at or below 1e-8 leaves its vector unnormalised.
 */
@Component(service = Merger.class, property = Merger.PROPERTY + "=slerp")
public final class SlerpMerger implements Merger {
    static final double DOT_THRESHOLD = 0.9995;
    static final double EPS = 1e-8;

    @Override
    public List<MergeParameter> parameters() {
        return List.of(MergeParameter.required("t"));
    }

    @Override
    public List<MergeParameter> tensorParameters() {
        return List.of();
    }

    @Override
    public boolean requiresBaseModel() {
        return true;
    }

    @Override
    public String referenceUrl() {
        return "https://en.wikipedia.org/wiki/Slerp";
    }

    @Override
    public void check(MergeTensor t) {
        if (t.inputs() != 2) {
            throw new IllegalArgumentException("slerp merges exactly two models, the base and one other; got " + t.inputs());
        }
    }

    @Override
    public TensorMerge begin(MergeTensor t) {
        int b = t.baseIndex();
        int other = 1 - b;
        double tt = t.doubleParameter("t");
        return new TensorMerge() {
            double sq0;
            double sq1;
            double dot;
            float s0;
            float s1;

            @Override
            public int passes() {
                return 1;
            }

            @Override
            public void observe(int pass, long offset, float[][] in, int n) {
                float[] v0 = in[b];
                float[] v1 = in[other];
                for (int e = 0; e < n; e++) {
                    sq0 += (double) v0[e] * v0[e];
                    sq1 += (double) v1[e] * v1[e];
                    dot += (double) v0[e] * v1[e];
                }
            }

            @Override
            public void endPass(int pass) {
                double n0 = Math.sqrt(sq0) > EPS ? Math.sqrt(sq0) : 1;
                double n1 = Math.sqrt(sq1) > EPS ? Math.sqrt(sq1) : 1;
                double cos = dot / (n0 * n1);
                if (Math.abs(cos) > DOT_THRESHOLD) {
                    s0 = (float) (1 - tt);
                    s1 = (float) tt;
                    return;
                }
                double theta0 = Math.acos(cos);
                double sinTheta0 = Math.sin(theta0);
                double thetaT = theta0 * tt;
                s0 = (float) (Math.sin(theta0 - thetaT) / sinTheta0);
                s1 = (float) (Math.sin(thetaT) / sinTheta0);
            }

            @Override
            public void combine(long offset, float[][] in, int n, float[] out) {
                float[] v0 = in[b];
                float[] v1 = in[other];
                for (int e = 0; e < n; e++) {
                    out[e] = s0 * v0[e] + s1 * v1[e];
                }
            }
        };
    }
}
