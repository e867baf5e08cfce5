package ai.attune.plugins.memory.checkpointing;

import ai.attune.api.autograd.Autograd;
import ai.attune.api.autograd.Function;
import ai.attune.api.autograd.GradMode;
import ai.attune.api.nn.DropoutSeeds;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;

import java.util.function.UnaryOperator;

/**
 * One transformer block as a checkpoint ({@code torch.utils.checkpoint}, non-reentrant in effect):
 * forward runs the block without recording and keeps nothing but its input; backward runs it
 * again from that input with recording on, from the same dropout position, and backpropagates
 * through the recomputed block. The block's parameters' gradients accumulate into their
 * {@code .grad} during that inner pass, as they would in one pass over the whole graph.
 *
 * <p>Inputs: the block's input [b, t, hidden], then every trainable parameter of the block. They
 * are listed so the checkpoint is recorded when only they need a gradient (LoRA: the block's
 * input comes from a frozen embedding); their gradients are not returned, having been accumulated.
 */
final class CheckpointedBlock extends Function {
    private final int layer;
    private final UnaryOperator<Tensor> body;
    private final DropoutSeeds seeds;
    private final boolean preserveRngState;

    CheckpointedBlock(int layer, UnaryOperator<Tensor> body, DropoutSeeds seeds, boolean preserveRngState) {
        this.layer = layer;
        this.body = body;
        this.seeds = seeds;
        this.preserveRngState = preserveRngState;
    }

    @Override
    protected String name() {
        return "Checkpoint" + layer;
    }

    @Override
    protected Tensor[] forward(Context ctx, Tensor... inputs) {
        Tensor x = inputs[0]; // [b, t, hidden]
        ctx.saveForBackward(x);
        ctx.put("inputs", inputs.length);
        ctx.put("dropout", seeds == null ? 0L : seeds.position());
        Tensor out = x.backend().empty(x.dtype(), x.shape(), Scope.current());
        // The block's temporaries live in a scope of their own and go back to the pool at once.
        try (Scope block = Scope.open("checkpoint-" + layer)) {
            x.backend().copy(body.apply(x), out);
        }
        return new Tensor[] {out};
    }

    @Override
    protected Tensor[] backward(Context ctx, Tensor... gradOutputs) {
        Tensor x = ctx.saved(0);
        Tensor[] grads = new Tensor[ctx.<Integer>get("inputs")];
        long after = seeds == null ? 0 : seeds.position();
        if (seeds != null && preserveRngState) {
            seeds.seek(ctx.<Long>get("dropout"));
        }
        // The recomputed block's activations, and its output, die with this scope; the input's
        // gradient is allocated in the input's own scope and the parameters' in theirs.
        try (Scope recompute = Scope.open("recompute-" + layer); GradMode.Region on = GradMode.enableGrad()) {
            Tensor input = x.detach().requiresGrad(x.requiresGrad());
            Autograd.backward(body.apply(input), gradOutputs[0]);
            grads[0] = input.grad();
        } finally {
            if (seeds != null) {
                seeds.seek(after);
            }
        }
        return grads;
    }
}
