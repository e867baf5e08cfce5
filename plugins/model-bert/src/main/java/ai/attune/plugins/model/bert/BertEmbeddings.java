package ai.attune.plugins.model.bert;

import ai.attune.api.autograd.Ops;
import ai.attune.api.autograd.Views;
import ai.attune.api.nn.Embedding;
import ai.attune.api.nn.Dropout;
import ai.attune.api.nn.LayerNorm;
import ai.attune.api.nn.Module;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;

/** transformers' {@code BertEmbeddings}: word + token type + absolute position embeddings, then LayerNorm. */
final class BertEmbeddings extends Module {
    private final Embedding wordEmbeddings;
    private final Embedding positionEmbeddings;
    private final Embedding tokenTypeEmbeddings;
    private final LayerNorm layerNorm;
    private final Dropout dropout;

    BertEmbeddings(BertConfig c, Backend be, DType dtype, Scope scope) {
        this.wordEmbeddings = register("word_embeddings", new Embedding(be, dtype, scope, c.vocabSize(), c.hiddenSize()));
        this.positionEmbeddings = register("position_embeddings", new Embedding(be, dtype, scope, c.maxPositionEmbeddings(), c.hiddenSize()));
        this.tokenTypeEmbeddings = register("token_type_embeddings", new Embedding(be, dtype, scope, c.typeVocabSize(), c.hiddenSize()));
        this.layerNorm = register("LayerNorm", new LayerNorm(be, dtype, scope, c.hiddenSize(), c.layerNormEps()));
        this.dropout = register("dropout", new Dropout(c.hiddenDropoutProb()));
    }

    /** ids and tokenTypeIds [batch, t] (token types may be null: all 0) to [batch, t, hidden]. */
    Tensor forward(Tensor ids, Tensor tokenTypeIds) {
        int t = ids.size(1);
        int maxPositions = positionEmbeddings.weight().value().size(0);
        if (t > maxPositions) {
            throw new IllegalArgumentException("a sequence of " + t + " tokens exceeds max_position_embeddings " + maxPositions);
        }
        Tensor types = tokenTypeIds == null
                ? Views.slice(tokenTypeEmbeddings.weight().value(), 0, 0, 1) // [1, hidden]: type 0 for every token, as HF's zero buffer
                : tokenTypeEmbeddings.forward(tokenTypeIds);                  // [batch, t, hidden]
        // Positions are 0..t-1 for every sequence, so rows [0, t) of the table broadcast over the batch.
        Tensor positions = Views.slice(positionEmbeddings.weight().value(), 0, 0, t); // [t, hidden]
        // HF's order: (word + token type) + position; float addition is not associative.
        Tensor x = Ops.add(Ops.add(wordEmbeddings.forward(ids), types), positions); // [batch, t, hidden]
        return dropout.forward(layerNorm.forward(x));
    }
}
