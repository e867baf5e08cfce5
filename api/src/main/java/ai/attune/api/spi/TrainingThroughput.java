package ai.attune.api.spi;

/**
 * What a finished training stage cost: its optimizer steps, their wall time, the tokens they saw
 * (non-padding, and padded: what the batches' rectangles actually computed) and the parameters
 * of the model trained.
 *
 * @param seconds      wall time of the steps: forwards, backwards, clipping and optimizer updates
 * @param tokens       non-padding tokens over all steps (the attention masks' ones)
 * @param paddedTokens batch rows x padded length, summed over steps: the tokens the kernels computed
 * @param parameters   the parameters of the trained module that multiply: every one but the
 *                     embedding tables, which are looked up
 */
public record TrainingThroughput(int steps, double seconds, long tokens, long paddedTokens, long parameters) {
    public double stepsPerSecond() {
        return steps / seconds;
    }

    public double tokensPerSecond() {
        return tokens / seconds;
    }

    public double paddedTokensPerSecond() {
        return paddedTokens / seconds;
    }

    /**
     * Model FLOPs utilisation against a peak of {@code peakGflops}: 6 FLOPs per multiplying
     * parameter per computed (padded) token, as {@code attune bench} counts full fine-tuning
     * (Kaplan et al. 2020; attention's own FLOPs left out). NaN when the peak is unknown.
     */
    public double mfu(double peakGflops) {
        return 6.0 * parameters * paddedTokensPerSecond() / (peakGflops * 1e9);
    }
}
