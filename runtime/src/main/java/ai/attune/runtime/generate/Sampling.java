package ai.attune.runtime.generate;

/**
 * How the next token is picked, as transformers' generate applies its logits warpers: temperature,
 * then top-k, then top-p, then a draw from the softmax. Temperature 0 is greedy decoding.
 */
public record Sampling(double temperature, int topK, double topP, long seed) {
    public static final Sampling GREEDY = new Sampling(0, 0, 1.0, 0);

    public Sampling {
        if (temperature < 0 || Double.isNaN(temperature)) {
            throw new IllegalArgumentException("temperature must be >= 0, got " + temperature);
        }
        if (topK < 0) {
            throw new IllegalArgumentException("top-k must be >= 0, got " + topK);
        }
        if (!(topP > 0 && topP <= 1)) {
            throw new IllegalArgumentException("top-p must be in (0, 1], got " + topP);
        }
    }

    public boolean greedy() {
        return temperature == 0;
    }
}
