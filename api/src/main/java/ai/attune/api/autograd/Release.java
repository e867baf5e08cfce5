package ai.attune.api.autograd;

import ai.attune.api.tensor.Storage;
import ai.attune.api.tensor.Tensor;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What one backward pass gives back to the pool, and when. The rule, per storage:
 * <ul>
 *   <li>An <em>activation</em>, a tensor an op on the tape produced, is dead once its producer's
 *       backward has run: the walk is in reverse topological order, so every op that read it has
 *       run its backward before. Views share storage, so a storage goes back once the producers of
 *       all the tape tensors on it have run.</li>
 *   <li>A <em>gradient</em> is dead once the node it was waiting for has run its backward, unless
 *       it (or a view of it) also waits for another node: gradients are counted per storage as
 *       they enter and leave the pending slots.</li>
 *   <li>Never given back: the storage of a leaf (parameters, inputs, constants, and views of
 *       them), of the output backward started from, and of the upstream gradient.</li>
 * </ul>
 * Tensors a {@link Function} saved beyond its inputs ({@link Node#saved()}) go back once every
 * node that saved them has run; temporaries no node names die with their scope, as before. A
 * storage is released at most once, and only when no rule above still holds it.
 */
final class Release {
    private final Map<Node, List<Tensor>> produced = new IdentityHashMap<>();
    private final Map<Storage, Integer> activations = new IdentityHashMap<>();
    private final Map<Storage, Integer> gradients = new IdentityHashMap<>();
    private final Map<Storage, Integer> saved = new IdentityHashMap<>();
    private final Set<Storage> kept = Collections.newSetFromMap(new IdentityHashMap<>());
    private final Set<Storage> released = Collections.newSetFromMap(new IdentityHashMap<>());

    Release(List<Node> order, Tensor output, Tensor upstream) {
        kept.add(output.storage());
        kept.add(upstream.storage());
        Set<Tensor> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        add(output, seen);
        for (Node n : order) {
            for (Tensor t : n.saved()) {
                saved.merge(t.storage(), 1, Integer::sum);
            }
            for (Tensor t : n.inputs()) {
                if (t == null) {
                    continue;
                }
                if (t.gradFn() == null) {
                    kept.add(t.storage());
                } else {
                    add(t, seen);
                }
            }
        }
    }

    private void add(Tensor t, Set<Tensor> seen) {
        if (seen.add(t)) {
            produced.computeIfAbsent(t.gradFn(), n -> new ArrayList<>()).add(t);
            activations.merge(t.storage(), 1, Integer::sum);
        }
    }

    /** A gradient entered a pending slot. */
    void hold(Tensor gradient) {
        gradients.merge(gradient.storage(), 1, Integer::sum);
    }

    /** A gradient left its pending slot (summed into another, or consumed by its node). */
    void drop(Tensor gradient) {
        Storage s = gradient.storage();
        Integer n = gradients.get(s);
        if (n == null) {
            return; // the upstream gradient, never held
        }
        if (n == 1) {
            gradients.remove(s);
            free(s);
        } else {
            gradients.put(s, n - 1);
        }
    }

    /**
     * {@code node} has run its backward ({@code gradOuts} null when no gradient reached it): its
     * outputs, the gradients it consumed and those of its inputs that nothing holds are given back.
     */
    void done(Node node, Tensor[] gradOuts, Tensor[] gradIns) {
        for (Tensor t : produced.getOrDefault(node, List.of())) {
            Storage s = t.storage();
            int n = activations.merge(s, -1, Integer::sum);
            if (n == 0) {
                activations.remove(s);
                free(s);
            }
        }
        for (Tensor t : node.saved()) {
            Storage s = t.storage();
            int n = saved.merge(s, -1, Integer::sum);
            if (n == 0) {
                saved.remove(s);
                free(s);
            }
        }
        if (gradOuts != null) {
            for (Tensor g : gradOuts) {
                if (g != null) {
                    drop(g);
                }
            }
        }
        if (gradIns != null) {
            for (Tensor g : gradIns) {
                if (g != null && !gradients.containsKey(g.storage())) {
                    free(g.storage()); // accumulated into a leaf's .grad, or for an input that needs none
                }
            }
        }
    }

    private void free(Storage s) {
        if (!kept.contains(s) && !activations.containsKey(s) && !gradients.containsKey(s) && !saved.containsKey(s) && released.add(s)) {
            s.release();
        }
    }
}
