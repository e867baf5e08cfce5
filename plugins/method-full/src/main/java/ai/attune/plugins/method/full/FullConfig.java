package ai.attune.plugins.method.full;

import com.fasterxml.jackson.annotation.JsonCreator;

/**
 * Full fine-tuning has no options: every parameter trains, and the learning rate, schedule and
 * memory strategies come from the rest of the recipe. The record binds {@code full: {}}.
 */
public record FullConfig() {
    public static final FullConfig DEFAULTS = new FullConfig();

    @JsonCreator
    public FullConfig {
    }
}
