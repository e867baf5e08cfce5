package ai.attune.runtime.data;

import ai.attune.api.data.Sample;
import ai.attune.api.spi.DataFormat;
import ai.attune.api.spi.Kind;
import ai.attune.runtime.host.PluginCatalog;

import java.util.List;

/**
 * The language-model data formats, found by name in the service registry: the formats a
 * distribution ships are plugins like any other, so what is installed is what can be read.
 */
public final class DataFormats {
    private DataFormats() {}

    /**
     * The format registered as {@code name}, which the user gave as {@code key} (a recipe key or an
     * option, e.g. {@code --format}).
     *
     * @throws IllegalArgumentException in one line naming the key, the format and the installed ones
     */
    @SuppressWarnings("unchecked")
    public static DataFormat<Sample> find(PluginCatalog catalog, String name, String key) {
        if (name.equals(DataSpec.CLASSIFICATION)) {
            throw new IllegalArgumentException(key + " '" + name + "' is data for a classifier method, not for language-model training;"
                    + " installed formats: " + installed(catalog));
        }
        return catalog.find(Kind.DATA_FORMAT, name, DataFormat.class).orElseThrow(() -> new IllegalArgumentException(
                key + " '" + name + "' is not installed; installed: " + installed(catalog)));
    }

    /** The installed formats' names, sorted. */
    public static List<String> installed(PluginCatalog catalog) {
        return catalog.list(Kind.DATA_FORMAT).stream().map(PluginCatalog.Entry::name).toList();
    }
}
