package ai.attune.plugins.adapter;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * The recipe's {@code adapter:} block, in the terms of AdapterHub's {@code adapters} library.
 *
 * @param config          the architecture: {@code double_seq_bn} (Houlsby et al. 2019), the only one so far
 * @param reductionFactor bottleneck width r = hidden // reduction_factor (16)
 * @param nonLinearity    {@code swish} (= SiLU, the default), {@code relu}, {@code gelu} or {@code tanh}
 * @param name            the adapter's name, part of every tensor key ({@code default})
 * @param initFrom        an adapter directory whose weights start the run, or null
 */
public record AdapterConfig(
        @JsonProperty("config") String config,
        @JsonProperty("reduction_factor") int reductionFactor,
        @JsonProperty("non_linearity") String nonLinearity,
        @JsonProperty("name") String name,
        @JsonProperty("init_from") String initFrom) {

    public static final AdapterConfig DEFAULTS = new AdapterConfig("double_seq_bn", 16, "swish", "default", null);

    public AdapterConfig {
        config = config == null ? "double_seq_bn" : config;
        if (!config.equals("double_seq_bn")) {
            throw new IllegalArgumentException("config '" + config + "' is not supported: only double_seq_bn (Houlsby)");
        }
        if (reductionFactor <= 0) {
            throw new IllegalArgumentException("reduction_factor must be a positive integer, got " + reductionFactor);
        }
        nonLinearity = nonLinearity == null ? "swish" : nonLinearity.toLowerCase();
        if (!java.util.List.of("swish", "silu", "relu", "gelu", "tanh").contains(nonLinearity)) {
            throw new IllegalArgumentException("non_linearity must be swish, relu, gelu or tanh, got '" + nonLinearity + "'");
        }
        name = name == null ? "default" : name;
        if (!name.matches("[A-Za-z0-9_-]+")) {
            throw new IllegalArgumentException("name must be letters, digits, _ or -, got '" + name + "'");
        }
    }

    @JsonCreator
    static AdapterConfig bind(@JsonProperty("config") String config, @JsonProperty("reduction_factor") Integer r,
                              @JsonProperty("non_linearity") String nonLinearity, @JsonProperty("name") String name,
                              @JsonProperty("init_from") String initFrom) {
        return new AdapterConfig(config, r == null ? DEFAULTS.reductionFactor : r, nonLinearity, name, initFrom);
    }
}
