package ai.attune.plugins.model.bert;

import ai.attune.api.tensor.Tensor;

/**
 * Where transformers' BertModel applies {@code hidden_dropout_prob}: after the embeddings' LayerNorm
 * and after each dense layer that feeds a residual. Attune runs encoders for inference so far, where
 * dropout is the identity; this is the hook that training will turn on (with a per-step seed for
 * {@code F.dropout}). Attention-probability dropout has no hook: the fused attention kernel never
 * materialises the probabilities.
 */
record Dropout(double p) {
    Tensor apply(Tensor x) {
        return x;
    }
}
