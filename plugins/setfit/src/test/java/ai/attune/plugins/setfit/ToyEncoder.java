package ai.attune.plugins.setfit;

import ai.attune.api.autograd.Ops;
import ai.attune.api.autograd.Views;
import ai.attune.api.model.SentenceEncoder;
import ai.attune.api.nn.Embedding;
import ai.attune.api.nn.Module;
import ai.attune.api.spi.ClassifierContext;
import ai.attune.api.spi.Optimizer;
import ai.attune.api.spi.TrainingThroughput;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;
import ai.attune.plugins.optim.adamw.AdamWOptimizer;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;

/**
 * A sentence encoder small enough to train in milliseconds: a token embedding table, mean-pooled
 * over the mask. Texts are space-separated token ids. Also the context the method runs in.
 */
final class ToyEncoder extends Module implements SentenceEncoder {
    static final int VOCAB = 20;
    static final int DIM = 8;

    private final Embedding embedding;

    /** Random N(0, 1) token vectors; {@code offset} is added to the first coordinate of tokens 0-9 and taken from 10-19. */
    ToyEncoder(Backend be, Scope scope, long seed, double offset) {
        embedding = addChild("embeddings", new Embedding(be, DType.F32, scope, VOCAB, DIM));
        Random r = new Random(seed);
        double[] w = new double[VOCAB * DIM];
        Arrays.setAll(w, i -> r.nextGaussian() + (i % DIM == 0 ? (i / DIM < 10 ? offset : -offset) : 0));
        try (Scope tmp = Scope.open("init")) {
            be.copy(Tensors.of(be, DType.F32, w, VOCAB, DIM), embedding.weight().value());
        }
    }

    @Override
    public Module module() {
        return this;
    }

    @Override
    public int dimension() {
        return DIM;
    }

    @Override
    public Tensor embed(Tensor ids, Tensor attentionMask, Tensor tokenTypeIds) {
        Tensor x = embedding.forward(ids);                                                          // [b, t, dim]
        Tensor m = Views.reshape(Ops.to(attentionMask, DType.F32), ids.size(0), ids.size(1), 1);   // [b, t, 1]
        return Ops.div(Ops.sum(Ops.mul(x, m), new int[] {1}, false), Ops.sum(m, new int[] {1}, false)); // [b, dim]
    }

    static long[] tokenize(String text) {
        return Arrays.stream(text.trim().split(" +")).mapToLong(Long::parseLong).toArray();
    }

    /** A context over {@code encoder} with the AdamW plugin and silent progress. */
    static ClassifierContext context(SentenceEncoder encoder, Backend be, Scope scope) {
        return new ClassifierContext() {
            @Override
            public SentenceEncoder encoder() {
                return encoder;
            }

            @Override
            public Backend backend() {
                return be;
            }

            @Override
            public Scope scope() {
                return scope;
            }

            @Override
            public Path modelDir() {
                return Path.of(".");
            }

            @Override
            public long[] tokenize(String text) {
                return ToyEncoder.tokenize(text);
            }

            @Override
            public int maxSeqLength() {
                return 64;
            }

            @Override
            public Optimizer<?> optimizer(String name) {
                return new AdamWOptimizer();
            }

            @Override
            public Stage stage(String name, long total) {
                return new Stage() {
                    @Override
                    public void advance(long n, String extra) {}

                    @Override
                    public void close() {}
                };
            }

            @Override
            public void warn(String message) {}

            @Override
            public void bodyTrained(TrainingThroughput throughput) {}
        };
    }
}
