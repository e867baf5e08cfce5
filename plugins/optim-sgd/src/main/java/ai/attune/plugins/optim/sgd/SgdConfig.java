package ai.attune.plugins.optim.sgd;

import com.fasterxml.jackson.annotation.JsonProperty;

/** {@code torch.optim.SGD}'s options, with its key names and defaults. */
public record SgdConfig(
        @JsonProperty("momentum") double momentum,
        @JsonProperty("dampening") double dampening,
        @JsonProperty("weight_decay") double weightDecay,
        @JsonProperty("nesterov") boolean nesterov,
        @JsonProperty("maximize") boolean maximize) {

    public static final SgdConfig DEFAULTS = new SgdConfig(0, 0, 0, false, false);

    public SgdConfig {
        if (momentum < 0) {
            throw new IllegalArgumentException("momentum must be >= 0, got " + momentum);
        }
        if (weightDecay < 0) {
            throw new IllegalArgumentException("weight_decay must be >= 0, got " + weightDecay);
        }
        if (nesterov && (momentum <= 0 || dampening != 0)) {
            throw new IllegalArgumentException("nesterov needs momentum > 0 and dampening = 0");
        }
    }
}
