package ai.attune.plugins.prefixtuning;

import ai.attune.api.autograd.Ops;
import ai.attune.api.autograd.Views;
import ai.attune.api.model.ModelHooks;
import ai.attune.api.nn.Linear;
import ai.attune.api.nn.Module;
import ai.attune.api.nn.Parameter;
import ai.attune.api.tensor.Tensor;

/**
 * PEFT's {@code PrefixEncoder}: the prefix [P, layers·2·token_dim], either an embedding of that
 * width, or an embedding of width token_dim through Linear → tanh → Linear. Layer {@code l} reads
 * the prefix viewed as [P, 2·layers, kv, head_dim] and permuted to [2·layers, kv, P, head_dim]:
 * chunk 2l are its keys, chunk 2l+1 its values.
 */
final class PrefixEncoder extends Module implements ModelHooks.KvPrefix {
    static final String NAME = "prefix_encoder";
    private final Parameter embedding;
    private final Linear down;
    private final Linear up;
    private final ModelHooks.Dims dims;
    private final int p;
    /** The permuted prefix of the forward in progress: layer 0 computes it, the other layers reuse it. */
    private Tensor current;

    PrefixEncoder(Parameter embedding, Linear down, Linear up, ModelHooks.Dims dims) {
        this.embedding = register("embedding.weight", embedding);
        this.down = down == null ? null : register("transform.0", down);
        this.up = up == null ? null : register("transform.2", up);
        this.dims = dims;
        this.p = embedding.value().size(0);
    }

    Parameter embedding() {
        return embedding;
    }

    /** The prefix, [P, layers·2·kv·head_dim]. */
    Tensor prefix() {
        Tensor e = embedding.value();
        return down == null ? e : up.forward(Ops.tanh(down.forward(e)));
    }

    @Override
    public int length() {
        return p;
    }

    @Override
    public Tensor[] keysValues(int layer) {
        if (layer == 0 || current == null) {
            Tensor x = Views.reshape(prefix(), p, 2 * dims.layers(), dims.kvHeads(), dims.headDim()); // [P, 2L, kv, d]
            current = Views.permute(x, 1, 2, 0, 3); // [2L, kv, P, d]
        }
        Tensor k = Views.reshape(Views.slice(current, 0, 2 * layer, 2 * layer + 1), dims.kvHeads(), p, dims.headDim()); // [kv, P, d]
        Tensor v = Views.reshape(Views.slice(current, 0, 2 * layer + 1, 2 * layer + 2), dims.kvHeads(), p, dims.headDim());
        return new Tensor[] {k, v};
    }
}
