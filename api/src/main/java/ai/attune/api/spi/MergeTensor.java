package ai.attune.api.spi;

import java.util.List;
import java.util.Map;

/**
 * One tensor of a merge as the host hands it to a {@link Merger}: the inputs are the config's
 * models in order, with the base model among them at {@code baseIndex}.
 *
 * @param name            the tensor's name, e.g. {@code model.layers.3.mlp.down_proj.weight}
 * @param shape           its shape, the same in every input
 * @param baseIndex       the base model's input index, or -1 without one
 * @param modelParameters per input, its {@link Merger#tensorParameters()} resolved for this tensor
 * @param parameters      the {@link Merger#parameters()} resolved for this tensor
 * @param seed            the merge's random seed, for methods that draw (DARE)
 */
public record MergeTensor(String name, long[] shape, int baseIndex, List<Map<String, Object>> modelParameters,
                          Map<String, Object> parameters, long seed) {
    public MergeTensor {
        shape = shape.clone();
        modelParameters = List.copyOf(modelParameters);
        parameters = Map.copyOf(parameters);
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    /** Number of elements. */
    public long numel() {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        return n;
    }

    public int inputs() {
        return modelParameters.size();
    }

    /** A numeric parameter of input {@code i}. */
    public double modelDouble(int i, String key) {
        return ((Number) modelParameters.get(i).get(key)).doubleValue();
    }

    /** A numeric parameter of the merge. */
    public double doubleParameter(String key) {
        return ((Number) parameters.get(key)).doubleValue();
    }

    /** A text parameter of the merge. */
    public String stringParameter(String key) {
        return String.valueOf(parameters.get(key));
    }

    /** A boolean parameter of the merge (mergekit accepts 0/1 too). */
    public boolean booleanParameter(String key) {
        Object v = parameters.get(key);
        return v instanceof Boolean b ? b : ((Number) v).doubleValue() != 0;
    }
}
