package ai.attune.plugins.merge.linear;

import ai.attune.api.spi.MergeParameter;
import ai.attune.api.spi.MergeTensor;
import ai.attune.api.spi.Merger;
import ai.attune.api.spi.TensorMerge;
import org.osgi.service.component.annotations.Component;

import java.util.List;

/**
 * mergekit's {@code linear}: {@code Σ wᵢ·Wᵢ}, divided by {@code Σ wᵢ} when {@code normalize}
 * (the default). Arithmetic in f32 in mergekit's order: each product rounded, the sum accumulated
 * model by model, then one division by the f32 sum of the weights.
 */
@Component(service = Merger.class, property = Merger.PROPERTY + "=linear")
public final class LinearMerger implements Merger {
    @Override
    public List<MergeParameter> parameters() {
        return List.of(MergeParameter.optional("normalize", true));
    }

    @Override
    public List<MergeParameter> tensorParameters() {
        return List.of(MergeParameter.required("weight"));
    }

    @Override
    public boolean requiresBaseModel() {
        return false;
    }

    @Override
    public String referenceUrl() {
        return "https://arxiv.org/abs/2203.05482";
    }

    @Override
    public void check(MergeTensor t) {
        if (t.booleanParameter("normalize") && weightSum(t) == 0f) {
            throw new IllegalArgumentException("the weights sum to 0, so normalize would divide by 0");
        }
    }

    @Override
    public TensorMerge begin(MergeTensor t) {
        int n = t.inputs();
        float[] w = new float[n];
        for (int i = 0; i < n; i++) {
            w[i] = (float) t.modelDouble(i, "weight");
        }
        boolean normalize = t.booleanParameter("normalize");
        float sum = weightSum(t);
        return (offset, inputs, count, out) -> {
            for (int e = 0; e < count; e++) {
                float acc = w[0] * inputs[0][e];
                for (int i = 1; i < n; i++) {
                    acc += w[i] * inputs[i][e];
                }
                out[e] = normalize ? acc / sum : acc;
            }
        };
    }

    private static float weightSum(MergeTensor t) {
        float sum = 0f;
        for (int i = 0; i < t.inputs(); i++) {
            sum += (float) t.modelDouble(i, "weight");
        }
        return sum;
    }
}
