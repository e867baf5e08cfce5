package ai.attune.runtime.data;

import ai.attune.api.data.Sample;
import ai.attune.api.spi.DataFormat;
import ai.attune.api.spi.Kind;
import ai.attune.plugins.data.chat.ChatFormat;
import ai.attune.plugins.data.instruct.AlpacaFormat;
import ai.attune.plugins.data.instruct.PromptCompletionFormat;
import ai.attune.plugins.data.text.TextFormat;
import ai.attune.plugins.data.text.TokensFormat;
import ai.attune.runtime.host.PluginCatalog;
import ai.attune.runtime.host.StaticCatalog;

import java.util.Map;

/**
 * The data formats a distribution ships, from the plugins' own classes, found through the
 * registry lookup the runtime uses: what tests read data with.
 */
public final class ShippedFormats {
    private ShippedFormats() {}

    /** Each format by the name its component registers. */
    public static Map<String, Object> byName() {
        return Map.of("text", new TextFormat(), "tokens", new TokensFormat(), "prompt_completion", new PromptCompletionFormat(),
                "alpaca", new AlpacaFormat(), "chat", new ChatFormat());
    }

    public static PluginCatalog catalog() {
        return StaticCatalog.of(Map.of(Kind.DATA_FORMAT, byName()));
    }

    public static DataFormat<Sample> get(String name) {
        return DataFormats.find(catalog(), name, "data.format");
    }
}
