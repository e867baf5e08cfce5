package ai.attune.api.model;

import ai.attune.api.nn.Embedding;
import ai.attune.api.nn.LinearLayer;
import ai.attune.api.nn.Module;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;

/** A decoder-only language model (LlamaForCausalLM, GPT2LMHeadModel, ...). */
public interface CausalLM {
    /** The module tree; its parameter names are the checkpoint's. */
    Module module();

    int vocabSize();

    /** Longest sequence the position encoding supports ({@code max_position_embeddings}). */
    int maxPositions();

    /**
     * Logits [batch, t, vocab] for ids [batch, t] (i64). Positions continue after the cache's
     * length; a null cache means positions 0..t-1 and no caching. keyMask [batch, cache + t] (non-zero
     * = real token) may be null when nothing is padded.
     */
    Tensor forward(Tensor ids, Tensor keyMask, KvCache cache);

    /**
     * The final hidden states [batch, t, hidden] for the same arguments as {@link #forward}: after
     * the final norm, before the {@link #outputHead()}, with the same hooks applied (virtual
     * tokens make t the virtual count plus the ids' length) and the cache advanced the same way.
     * {@code forward} is {@code outputHead().forward(hiddenStates(...))} for a model that has one,
     * so a caller may run the two halves itself, e.g. to fuse the head's product with the loss.
     */
    default Tensor hiddenStates(Tensor ids, Tensor keyMask, KvCache cache) {
        throw new UnsupportedOperationException(getClass().getSimpleName() + " does not expose its hidden states; call forward");
    }

    /**
     * The projection of the hidden states onto the vocabulary ({@code lm_head}, transformers'
     * {@code get_output_embeddings()}): weight [vocab, hidden], the input embedding's own weight
     * when they are tied. Null for a model that does not split its forward this way (then callers
     * use {@link #forward}).
     */
    default LinearLayer outputHead() {
        return null;
    }

    /**
     * The token embedding the input ids are looked up in, [vocab, hidden] (transformers'
     * {@code get_input_embeddings()}): a method may read its rows, e.g. prompt tuning's TEXT
     * initialisation.
     */
    default Embedding inputEmbeddings() {
        throw new UnsupportedOperationException(getClass().getSimpleName() + " does not expose its input embeddings");
    }

    /** The forward hooks methods install (virtual tokens, key/value prefixes); a model without any refuses them. */
    default ModelHooks hooks() {
        return ModelHooks.unsupported(getClass().getSimpleName());
    }

    /** An empty cache for {@code batch} sequences of up to {@code capacity} positions. */
    KvCache newCache(int batch, int capacity, Scope scope);
}
