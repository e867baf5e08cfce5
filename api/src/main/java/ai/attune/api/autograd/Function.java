package ai.attune.api.autograd;

import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A custom op with its own backward ({@code torch.autograd.Function}): the extension point for
 * fused ops such as LoRA, NF4 dequant-matmul or checkpointed segments. {@link #forward} runs
 * without recording; {@link #backward} receives one gradient per output (zeros for outputs that
 * did not reach the loss) and returns one per input (null where none is needed).
 */
public abstract class Function {
    protected abstract Tensor[] forward(Context ctx, Tensor... inputs);

    protected abstract Tensor[] backward(Context ctx, Tensor... gradOutputs);

    /** A readable name for the graph, e.g. {@code "LoraLinear"}. */
    protected String name() {
        return getClass().getSimpleName();
    }

    /** Runs the op and, in grad mode, records it so {@link #backward} is called during backpropagation. */
    public final Tensor[] apply(Tensor... inputs) {
        Context ctx = new Context();
        Tensor[] outs;
        try (GradMode.Region ignored = GradMode.noGrad()) {
            outs = forward(ctx, inputs);
        }
        boolean needs = GradMode.isEnabled() && Arrays.stream(inputs).anyMatch(t -> t != null && t.requiresGrad());
        if (needs) {
            FunctionNode node = new FunctionNode(this, ctx, inputs, outs);
            for (int i = 0; i < outs.length; i++) {
                outs[i].setGradFn(node, i);
            }
        }
        return outs;
    }

    /** State a forward leaves for its backward. */
    public static final class Context {
        private final List<Tensor> saved = new ArrayList<>();
        private final Map<String, Object> values = new HashMap<>();

        public void saveForBackward(Tensor... tensors) {
            saved.addAll(Arrays.asList(tensors));
        }

        public Tensor saved(int i) {
            return saved.get(i);
        }

        public void put(String key, Object value) {
            values.put(key, value);
        }

        @SuppressWarnings("unchecked")
        public <T> T get(String key) {
            return (T) values.get(key);
        }
    }

    private static final class FunctionNode implements Node {
        private final Function fn;
        private final Context ctx;
        private final List<Tensor> inputs;
        private final int[][] outputShapes;
        private final Tensor[] outputs;

        FunctionNode(Function fn, Context ctx, Tensor[] inputs, Tensor[] outputs) {
            this.fn = fn;
            this.ctx = ctx;
            this.inputs = Arrays.asList(inputs);
            this.outputs = outputs.clone();
            this.outputShapes = new int[outputs.length][];
            for (int i = 0; i < outputs.length; i++) {
                outputShapes[i] = outputs[i].shape();
            }
        }

        @Override
        public String name() {
            return fn.name() + "Backward";
        }

        @Override
        public List<Tensor> inputs() {
            return inputs;
        }

        @Override
        public int outputCount() {
            return outputShapes.length;
        }

        @Override
        public List<Tensor> saved() {
            return ctx.saved;
        }

        @Override
        public Tensor[] backward(Tensor[] gradOutputs) {
            Tensor[] g = gradOutputs.clone();
            for (int i = 0; i < g.length; i++) {
                if (g[i] == null) {
                    g[i] = outputs[i].backend().zeros(outputs[i].dtype(), outputShapes[i], Scope.current());
                }
            }
            return fn.backward(ctx, g);
        }
    }
}
