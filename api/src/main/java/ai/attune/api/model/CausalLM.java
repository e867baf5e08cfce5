package ai.attune.api.model;

import ai.attune.api.nn.Embedding;
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
