package ai.attune.api.model;

import ai.attune.api.nn.Module;
import ai.attune.api.tensor.Tensor;

/** An encoder used as sentence-transformers does: token states, mean pooling over the mask, L2 normalisation. */
public interface SentenceEncoder {
    Module module();

    /** The forward hooks methods install (sublayer outputs, the blocks); an encoder without any refuses them. */
    default ModelHooks hooks() {
        return ModelHooks.unsupported(getClass().getSimpleName());
    }

    /** Embedding width. */
    int dimension();

    /** Sentence embeddings [batch, dim] for ids, attention mask and token types [batch, t] (i64; token types may be null). */
    Tensor embed(Tensor ids, Tensor attentionMask, Tensor tokenTypeIds);
}
