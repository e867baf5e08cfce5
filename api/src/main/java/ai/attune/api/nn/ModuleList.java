package ai.attune.api.nn;

import java.util.ArrayList;
import java.util.List;

/** {@code torch.nn.ModuleList}: children named "0", "1", ..., so paths read {@code layers.3.mlp}. */
public final class ModuleList<M extends Module> extends Module {
    private final List<M> items = new ArrayList<>();

    public M add(M module) {
        addChild(Integer.toString(items.size()), module);
        items.add(module);
        return module;
    }

    public M get(int i) {
        return items.get(i);
    }

    public int size() {
        return items.size();
    }

    public List<M> items() {
        return List.copyOf(items);
    }
}
