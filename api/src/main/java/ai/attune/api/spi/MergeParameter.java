package ai.attune.api.spi;

/**
 * One parameter of a merge method's schema, as mergekit's {@code ConfigParameterDef}.
 *
 * @param name         the key in a merge config's {@code parameters}
 * @param defaultValue the value when the config leaves it out: a {@link Double} or {@link Boolean};
 *                     ignored when {@code required}
 * @param required     whether a config must give it (for per-model parameters: every model but the base)
 */
public record MergeParameter(String name, Object defaultValue, boolean required) {
    public static MergeParameter required(String name) {
        return new MergeParameter(name, null, true);
    }

    public static MergeParameter optional(String name, Object defaultValue) {
        return new MergeParameter(name, defaultValue, false);
    }
}
