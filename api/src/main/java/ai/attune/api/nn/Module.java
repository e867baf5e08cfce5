package ai.attune.api.nn;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;

/**
 * A node of a model's module tree ({@code torch.nn.Module}). Children and parameters are
 * registered under their Hugging Face attribute names, so {@link #namedParameters()} yields the
 * dotted names of the checkpoint: {@code model.layers.0.mlp.down_proj.weight}.
 */
public abstract class Module {
    private final Map<String, Module> children = new LinkedHashMap<>();
    private final Map<String, Parameter> parameters = new LinkedHashMap<>();
    private boolean training;
    private DropoutSeeds dropoutSeeds;

    /** Registers a child module under an attribute name; returns it for field initialisers. */
    protected <M extends Module> M register(String name, M child) {
        children.put(name, child);
        return child;
    }

    /** Registers a parameter under an attribute name; returns it. */
    protected Parameter register(String name, Parameter parameter) {
        parameters.put(name, parameter);
        return parameter;
    }

    /** Adds a child under a name unless one is there, e.g. entries of a layer list ("layers.0"). */
    public <M extends Module> M addChild(String name, M child) {
        children.putIfAbsent(name, child);
        return child;
    }

    /** Training mode ({@code module.train()}): dropout is active. Off by default, as after loading. */
    public boolean isTraining() {
        return training;
    }

    /** Sets training mode on this module and every descendant ({@code train()} / {@code eval()}). */
    public void setTraining(boolean training) {
        walk("", (p, m) -> m.training = training);
    }

    /**
     * Where the dropout layers of this module and its descendants draw their masks' seeds; the
     * trainer starts the sequence at each micro-batch. Without seeds (null, as after loading)
     * dropout layers are the identity even in training mode.
     */
    public void setDropoutSeeds(DropoutSeeds seeds) {
        walk("", (p, m) -> m.dropoutSeeds = seeds);
    }

    /** The seeds set by {@link #setDropoutSeeds}, or null. */
    public DropoutSeeds dropoutSeeds() {
        return dropoutSeeds;
    }

    public Map<String, Module> children() {
        return Map.copyOf(children);
    }

    /** Own parameters, by attribute name. */
    public Map<String, Parameter> ownParameters() {
        return Map.copyOf(parameters);
    }

    /**
     * Every parameter in the tree with its dotted path, depth first in registration order. A
     * parameter shared by two modules (a tied output head) appears once, under its first path, as
     * {@code named_parameters()} does in PyTorch, so optimizers never step it twice.
     */
    public Map<String, Parameter> namedParameters() {
        Map<String, Parameter> out = new LinkedHashMap<>();
        java.util.Set<Parameter> seen = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        walk("", (prefix, m) -> m.parameters.forEach((n, p) -> {
            if (seen.add(p)) {
                out.put(prefix + n, p);
            }
        }));
        return out;
    }

    /** Every module in the tree with its dotted path ("" for this one). */
    public Map<String, Module> namedModules() {
        Map<String, Module> out = new LinkedHashMap<>();
        walk("", (prefix, m) -> out.put(prefix.isEmpty() ? "" : prefix.substring(0, prefix.length() - 1), m));
        return out;
    }

    public List<Parameter> trainableParameters() {
        List<Parameter> out = new ArrayList<>();
        for (Parameter p : namedParameters().values()) {
            if (p.trainable()) {
                out.add(p);
            }
        }
        return out;
    }

    private void walk(String prefix, BiConsumer<String, Module> visit) {
        visit.accept(prefix, this);
        children.forEach((n, c) -> c.walk(prefix + n + ".", visit));
    }
}
