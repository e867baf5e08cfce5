package ai.attune.api.autograd;

import ai.attune.api.tensor.BinaryOp;
import ai.attune.api.tensor.Shape;
import ai.attune.api.tensor.Tensor;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The reverse-mode engine. {@link #backward} walks the graph from an output in reverse
 * topological order and accumulates gradients into the {@code grad} of the leaves that require
 * it, allocated in each leaf's own scope so they outlive the step's temporaries (gradient
 * accumulation over micro-batches sums into them). As it goes it gives back the memory nothing
 * will read again (see {@link Release}), so a step's live bytes fall through backward as they
 * rose through forward.
 */
public final class Autograd {
    private static volatile boolean releaseAsYouGo = !"false".equals(System.getProperty("attune.autograd.release"));

    private Autograd() {}

    /**
     * Told, during a backward, that a leaf's gradient is complete for that backward: no node left
     * to run will add to it. PyTorch's post-accumulate-grad hooks, which DistributedDataParallel
     * uses to start a bucket's all-reduce while backward goes on.
     */
    @FunctionalInterface
    public interface LeafGradientHook {
        void ready(Tensor leaf);
    }

    private static final ThreadLocal<LeafGradientHook> HOOK = new ThreadLocal<>();
    private static final ThreadLocal<int[]> DEPTH = ThreadLocal.withInitial(() -> new int[1]);

    /**
     * Installs {@code hook} on this thread's outermost backwards until the region closes. A leaf
     * that receives its gradient only inside a node's own backward (a checkpointed block runs one)
     * is not announced: the hook's owner treats every leaf as complete when backward returns.
     */
    public static GradMode.Region onLeafGradient(LeafGradientHook hook) {
        LeafGradientHook previous = HOOK.get();
        HOOK.set(hook);
        return () -> HOOK.set(previous);
    }

    /**
     * Whether backward gives memory back as it goes ({@link Release}'s rule): on unless
     * {@code -Dattune.autograd.release=false}. Off, every activation and gradient lives until its
     * scope closes, as the comparison in benchmarks and tests needs. Either way the results are
     * the same bits. With it on, only leaves and the output are readable after backward: read an
     * intermediate (an unscaled loss, say) before calling it.
     */
    public static void setReleaseAsYouGo(boolean on) {
        releaseAsYouGo = on;
    }

    public static boolean releaseAsYouGo() {
        return releaseAsYouGo;
    }

    /** {@code loss.backward()}: the output must hold one element; its gradient is 1. */
    public static void backward(Tensor output) {
        if (output.numel() != 1) {
            throw new IllegalArgumentException("backward() without a gradient needs a one-element output, got " + Shape.str(output.shape()));
        }
        Tensor one = output.backend().zeros(output.dtype(), output.shape(), ai.attune.api.tensor.Scope.current());
        output.backend().fill(one, 1.0);
        backward(output, one);
    }

    /** {@code output.backward(gradient)} for any output shape. */
    public static void backward(Tensor output, Tensor upstream) {
        if (!Arrays.equals(output.shape(), upstream.shape())) {
            throw new IllegalArgumentException("gradient shape " + Shape.str(upstream.shape()) + " does not match output " + Shape.str(output.shape()));
        }
        if (!output.requiresGrad()) {
            throw new IllegalStateException("output " + output + " does not require grad: no parameter on its path requires grad");
        }
        int[] depth = DEPTH.get();
        depth[0]++;
        try (GradMode.Region ignored = GradMode.noGrad()) {
            if (output.gradFn() == null) {
                accumulateLeaf(output, upstream);
                return;
            }
            List<Node> order = topologicalOrder(output.gradFn());
            LeafGradientHook hook = depth[0] == 1 ? HOOK.get() : null;
            Map<Node, List<Tensor>> completes = hook == null ? Map.of() : lastConsumers(order);
            Release release = releaseAsYouGo ? new Release(order, output, upstream) : null;
            Map<Node, Tensor[]> pending = new IdentityHashMap<>();
            pending.computeIfAbsent(output.gradFn(), n -> new Tensor[n.outputCount()])[output.outputIndex()] = upstream;
            for (Node node : order) {
                Tensor[] gradOuts = pending.remove(node);
                if (gradOuts == null) {
                    if (release != null) {
                        release.done(node, null, null);
                    }
                    for (Tensor leaf : completes.getOrDefault(node, List.of())) {
                        hook.ready(leaf); // nothing flowed through its last consumer, so its gradient is what it was
                    }
                    continue;
                }
                Tensor[] gradIns = node.backward(gradOuts);
                List<Tensor> inputs = node.inputs();
                for (int i = 0; i < inputs.size(); i++) {
                    Tensor in = inputs.get(i);
                    Tensor g = i < gradIns.length ? gradIns[i] : null;
                    if (in == null || g == null || !in.requiresGrad()) {
                        continue;
                    }
                    if (!Arrays.equals(g.shape(), in.shape())) {
                        throw new IllegalStateException(node.name() + " returned a gradient of shape " + Shape.str(g.shape())
                                + " for input " + i + " of shape " + Shape.str(in.shape()));
                    }
                    if (in.gradFn() == null) {
                        accumulateLeaf(in, g);
                    } else {
                        Tensor[] slot = pending.computeIfAbsent(in.gradFn(), n -> new Tensor[n.outputCount()]);
                        int k = in.outputIndex();
                        if (slot[k] == null) {
                            slot[k] = g;
                            if (release != null) {
                                release.hold(g);
                            }
                        } else {
                            Tensor sum = Ops.add(slot[k], g);
                            if (release != null) {
                                release.hold(sum);
                                release.drop(slot[k]);
                            }
                            slot[k] = sum;
                        }
                    }
                }
                if (release != null) {
                    release.done(node, gradOuts, gradIns);
                }
                for (Tensor leaf : completes.getOrDefault(node, List.of())) {
                    hook.ready(leaf);
                }
            }
        } finally {
            depth[0]--;
        }
    }

    /** For each node, the leaves requiring grad that it is the last in {@code order} to feed. */
    private static Map<Node, List<Tensor>> lastConsumers(List<Node> order) {
        Map<Tensor, Node> last = new IdentityHashMap<>();
        for (Node n : order) {
            for (Tensor in : n.inputs()) {
                if (in != null && in.gradFn() == null && in.requiresGrad()) {
                    last.put(in, n);
                }
            }
        }
        Map<Node, List<Tensor>> out = new IdentityHashMap<>();
        last.forEach((leaf, n) -> out.computeIfAbsent(n, k -> new ArrayList<>()).add(leaf));
        return out;
    }

    private static void accumulateLeaf(Tensor leaf, Tensor g) {
        Tensor grad = leaf.grad();
        if (grad == null) {
            Tensor spare = leaf.takeSpareGrad();
            grad = spare != null ? spare : leaf.backend().zeros(leaf.dtype(), leaf.shape(), leaf.storage().scope());
            leaf.backend().copy(g, grad);
            leaf.setGrad(grad);
        } else {
            leaf.backend().binary(BinaryOp.ADD, grad, g, grad);
        }
    }

    /** Nodes reachable from {@code root}, each after every node that consumes its outputs. */
    static List<Node> topologicalOrder(Node root) {
        List<Node> postOrder = new ArrayList<>();
        Set<Node> visited = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
        Deque<Object[]> stack = new ArrayDeque<>();
        stack.push(new Object[] {root, 0});
        visited.add(root);
        // Iterative DFS: graphs of deep models would overflow the Java stack recursively.
        while (!stack.isEmpty()) {
            Object[] frame = stack.peek();
            Node n = (Node) frame[0];
            int i = (Integer) frame[1];
            List<Tensor> ins = n.inputs();
            if (i < ins.size()) {
                frame[1] = i + 1;
                Tensor t = ins.get(i);
                if (t != null && t.gradFn() != null && visited.add(t.gradFn())) {
                    stack.push(new Object[] {t.gradFn(), 0});
                }
            } else {
                stack.pop();
                postOrder.add(n);
            }
        }
        java.util.Collections.reverse(postOrder);
        return postOrder;
    }

    /** Drops every given tensor's gradient ({@code zero_grad(set_to_none=True)}), keeping the storage for reuse. */
    public static void zeroGrad(Iterable<Tensor> tensors) {
        for (Tensor t : tensors) {
            t.clearGrad();
        }
    }

}
