package ai.attune.runtime.train;

import ai.attune.api.autograd.F;
import ai.attune.api.model.CausalLM;
import ai.attune.api.model.KvCache;
import ai.attune.api.nn.Embedding;
import ai.attune.api.nn.Module;
import ai.attune.api.nn.Parameter;
import ai.attune.api.spi.Method;
import ai.attune.api.spi.MethodContext;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;

import java.nio.file.Path;
import java.util.List;

/**
 * The smallest causal LM: the logits of the next token are a row of a [vocab, vocab] table picked
 * by the current token. Its loss and AdamW trajectory are easy to write out in double, which makes
 * it the oracle of the training loop's pinned semantics.
 */
final class Bigram extends Module implements CausalLM {
    final Embedding table;
    final int vocab;

    Bigram(Backend be, Scope scope, int vocab) {
        this.vocab = vocab;
        this.table = register("table", new Embedding(be, DType.F32, scope, vocab, vocab));
    }

    @Override
    public Module module() {
        return this;
    }

    @Override
    public int vocabSize() {
        return vocab;
    }

    @Override
    public int maxPositions() {
        return 1024;
    }

    @Override
    public Tensor forward(Tensor ids, Tensor keyMask, KvCache cache) {
        return F.embedding(table.weight().value(), ids); // [b, t, vocab]
    }

    @Override
    public KvCache newCache(int batch, int capacity, Scope scope) {
        throw new UnsupportedOperationException("a bigram model needs no cache");
    }

    /** Trains every parameter and saves nothing: the loop's test needs no output format. */
    static final class AllParameters implements Method<Object> {
        @Override
        public Class<Object> configType() {
            return Object.class;
        }

        @Override
        public Object defaultConfig() {
            return new Object();
        }

        @Override
        public List<Parameter> apply(Module model, Object config, MethodContext context) {
            model.namedParameters().values().forEach(p -> p.setTrainable(true));
            return List.copyOf(model.namedParameters().values());
        }

        @Override
        public void save(Module model, Object config, MethodContext context, Path out) throws java.io.IOException {
            java.nio.file.Files.createDirectories(out);
        }
    }
}
