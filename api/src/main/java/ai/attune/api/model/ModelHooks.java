package ai.attune.api.model;

import ai.attune.api.autograd.Views;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * What a fine-tuning method may add to a causal LM's forward besides wrapping its linear layers,
 * consulted by every model family the same way:
 *
 * <ul>
 *   <li>{@link VirtualTokens}: learned input embeddings prepended to the sequence, as
 *       transformers' {@code inputs_embeds} carries PEFT's prompt tuning. The forward then returns
 *       logits for the {@code P + t} positions, positions run {@code 0..P+t-1}, and the key mask
 *       gets {@code P} leading ones. Only a forward that starts a sequence (no cache, or an empty
 *       one) prepends them.</li>
 *   <li>{@link KvPrefix}: learned keys and values prepended in every attention layer, as PEFT's
 *       prefix tuning passes them as {@code past_key_values}: used as stored (no projection, no
 *       rotary embedding), real tokens at positions {@code P..P+t-1} attend to every prefix slot,
 *       the key mask gets {@code P} leading ones, and logits are for the {@code t} real tokens.</li>
 *   <li>{@link SublayerOutputs}: each block's attention and feed-forward outputs before the
 *       residual add, where bottleneck adapters sit.</li>
 *   <li>{@link BlockRunner}: how each block is run on its input, where gradient checkpointing keeps
 *       only that input and runs the block again in backward.</li>
 * </ul>
 */
public class ModelHooks {
    /** {@code P} learned embeddings, [P, hidden]. */
    @FunctionalInterface
    public interface VirtualTokens {
        Tensor embeddings();
    }

    /** Every layer's learned keys and values, each [kvHeads, P, headDim]. */
    public interface KvPrefix {
        int length();

        /** {keys, values} of {@code layer}. */
        Tensor[] keysValues(int layer);
    }

    /**
     * The output of each block's two sublayers, after their output projection and before the
     * residual add (and, in post-norm families, before the LayerNorm that follows it): where bottleneck
     * adapters sit.
     */
    public interface SublayerOutputs {
        /** The attention sublayer's output of {@code layer}, [b, t, hidden], possibly changed. */
        Tensor attention(int layer, Tensor out);

        /** The feed-forward sublayer's output of {@code layer}, [b, t, hidden], possibly changed. */
        Tensor mlp(int layer, Tensor out);
    }

    /**
     * Runs one transformer block. {@code body} is the block's forward as a function of its input
     * alone: everything else it reads (masks, positions, rotary tables, hooks) is fixed for the
     * forward, so it can be called again with the same input to recompute the same output.
     */
    @FunctionalInterface
    public interface BlockRunner {
        /** {@code block} of {@code layer} on {@code x} [b, t, hidden], to [b, t, hidden]. */
        Tensor run(int layer, ai.attune.api.nn.Module block, Tensor x, java.util.function.UnaryOperator<Tensor> body);
    }

    /** The sizes a method needs to build what it installs, in the model's own terms. */
    public record Dims(int layers, int hidden, int heads, int kvHeads, int headDim) {}

    private final Dims dims;
    private final List<? extends ai.attune.api.nn.Module> blocks;
    private VirtualTokens virtualTokens;
    private KvPrefix kvPrefix;
    private SublayerOutputs sublayers;
    private BlockRunner blockRunner;

    /** Hooks of a model of these sizes whose transformer blocks are {@code blocks}, in order. */
    public ModelHooks(Dims dims, List<? extends ai.attune.api.nn.Module> blocks) {
        this.dims = dims;
        this.blocks = blocks;
    }

    /** Hooks with no sizes, for a forward that only passes them on. */
    public ModelHooks() {
        this(null, List.of());
    }

    /** The transformer blocks (decoder or encoder layers), in order: a method adds its modules under them. */
    public List<? extends ai.attune.api.nn.Module> blocks() {
        return blocks;
    }

    public void setSublayerOutputs(SublayerOutputs s) {
        this.sublayers = s;
    }

    /** The attention sublayer's output through the installed hook, or unchanged. */
    public Tensor attentionOutput(int layer, Tensor out) {
        return sublayers == null ? out : sublayers.attention(layer, out);
    }

    /** The feed-forward sublayer's output through the installed hook, or unchanged. */
    public Tensor mlpOutput(int layer, Tensor out) {
        return sublayers == null ? out : sublayers.mlp(layer, out);
    }

    public void setBlockRunner(BlockRunner r) {
        this.blockRunner = r;
    }

    /** Block {@code layer} on {@code x} through the installed runner, or {@code body(x)}. */
    public Tensor runBlock(int layer, Tensor x, java.util.function.UnaryOperator<Tensor> body) {
        return blockRunner == null ? body.apply(x) : blockRunner.run(layer, blocks.get(layer), x, body);
    }

    public Dims dims() {
        if (dims == null) {
            throw new UnsupportedOperationException("these hooks carry no model sizes");
        }
        return dims;
    }

    /** Hooks of a model that consults none: installing one is refused with the model's name. */
    public static ModelHooks unsupported(String model) {
        return new ModelHooks() {
            @Override
            public void setVirtualTokens(VirtualTokens v) {
                throw new UnsupportedOperationException(model + " has no input-embedding hook (prompt tuning)");
            }

            @Override
            public void setKvPrefix(KvPrefix p) {
                throw new UnsupportedOperationException(model + " has no attention key/value hook (prefix tuning)");
            }

            @Override
            public void setSublayerOutputs(SublayerOutputs s) {
                throw new UnsupportedOperationException(model + " has no sublayer-output hook (bottleneck adapters)");
            }

            @Override
            public void setBlockRunner(BlockRunner r) {
                throw new UnsupportedOperationException(model + " has no block hook (gradient checkpointing)");
            }
        };
    }

    public void setVirtualTokens(VirtualTokens v) {
        this.virtualTokens = v;
    }

    public void setKvPrefix(KvPrefix p) {
        this.kvPrefix = p;
    }

    public VirtualTokens virtualTokens() {
        return virtualTokens;
    }

    public KvPrefix kvPrefix() {
        return kvPrefix;
    }

    /** {@code P} of the installed virtual tokens, 0 without. */
    public int virtualTokenCount() {
        return virtualTokens == null ? 0 : virtualTokens.embeddings().size(0);
    }

    /** {@code P} of the installed key/value prefix, 0 without. */
    public int prefixLength() {
        return kvPrefix == null ? 0 : kvPrefix.length();
    }

    /** The virtual tokens in front of {@code embeds} [b, t, hidden]: [b, P + t, hidden]. */
    public Tensor prependVirtualTokens(Tensor embeds) {
        return Views.concat(List.of(batched(virtualTokens.embeddings(), embeds.size(0)), embeds), 1);
    }

    /** {@code x} [n...] as a batch of {@code b} copies, [b, n...]; gradients of the copies add up in {@code x}. */
    public static Tensor batched(Tensor x, int b) {
        Tensor one = Views.unsqueeze(x, 0);
        return b == 1 ? one : Views.concat(new ArrayList<>(Collections.nCopies(b, one)), 0);
    }

    /** A key mask [b, t] with {@code n} leading ones: [b, n + t]; null stays null (nothing is padded). */
    public static Tensor extendMask(Tensor keyMask, int n) {
        if (keyMask == null || n == 0) {
            return keyMask;
        }
        int b = keyMask.size(0);
        long[] ones = new long[b * n];
        java.util.Arrays.fill(ones, 1);
        Tensor front = Tensors.ofLongs(keyMask.backend(), ones, b, n);
        return Views.concat(List.of(front, keyMask), 1);
    }
}
