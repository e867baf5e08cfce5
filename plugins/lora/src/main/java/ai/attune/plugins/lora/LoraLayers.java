package ai.attune.plugins.lora;

import ai.attune.api.nn.LinearLayer;
import ai.attune.api.nn.Module;
import ai.attune.api.nn.Parameter;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The LoRA layers of a model, found on the model itself (the adapters its linear layers carry),
 * so no plugin object holds job state: merge, unmerge, and the trainable parameters.
 */
public final class LoraLayers {
    private LoraLayers() {}

    /** Every adapted layer, by module path in module order. */
    public static Map<String, LoraLayer> find(Module model) {
        Map<String, LoraLayer> out = new LinkedHashMap<>();
        model.namedModules().forEach((path, m) -> {
            if (m instanceof LinearLayer layer) {
                for (LinearLayer.Adapter a : layer.adapters()) {
                    if (a instanceof LoraLayer lora) {
                        out.put(path, lora);
                    }
                }
            }
        });
        return out;
    }

    /** {@code merge_adapter()}: folds every update into its base weight ({@code W += scaling * B @ A}, transposed for fan_in_fan_out). */
    public static void merge(Module model) {
        find(model).values().forEach(LoraLayer::merge);
    }

    /** {@code unmerge_adapter()}: takes the updates back out of the base weights. */
    public static void unmerge(Module model) {
        find(model).values().forEach(LoraLayer::unmerge);
    }

    /** The LoRA parameters in module path order, A then B for each layer. */
    public static List<Parameter> parameters(Module model) {
        List<Parameter> out = new ArrayList<>();
        for (LoraLayer l : find(model).values()) {
            out.add(l.loraA().weight());
            out.add(l.loraB().weight());
        }
        return out;
    }
}
