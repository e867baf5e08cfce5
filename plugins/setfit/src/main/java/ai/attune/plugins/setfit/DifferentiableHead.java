package ai.attune.plugins.setfit;

import ai.attune.api.autograd.Autograd;
import ai.attune.api.autograd.F;
import ai.attune.api.autograd.GradMode;
import ai.attune.api.nn.DropoutSeeds;
import ai.attune.api.nn.Linear;
import ai.attune.api.nn.Module;
import ai.attune.api.nn.Parameter;
import ai.attune.api.spi.ClassifierContext;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;

/**
 * setfit's {@code SetFitHead}: one linear layer from the embedding to a logit per class, softmax
 * probabilities, cross-entropy loss; weights Xavier-uniform, biases 0.01. {@link #fit} is
 * {@code SetFitModel.fit} for it: AdamW with {@code l2_weight} as weight decay, the head at
 * {@code head_learning_rate} and, {@code end_to_end}, the body at the second
 * {@code body_learning_rate}; both halved every 5 epochs ({@code StepLR(5, 0.5)}); no clipping.
 */
final class DifferentiableHead implements Head {
    private final List<String> classes;
    private final Linear linear; // weight [classes, dim], bias [classes]

    DifferentiableHead(List<String> classes, Linear linear) {
        this.classes = List.copyOf(classes);
        this.linear = linear;
    }

    /** A fresh head: {@code nn.init.xavier_uniform_} on the weight from {@code seed}, bias 0.01. */
    static DifferentiableHead init(Backend be, Scope scope, int dim, List<String> classes, long seed) {
        int k = classes.size();
        double bound = Math.sqrt(6.0 / (dim + k));
        Random random = new Random(seed);
        double[] w = new double[k * dim];
        for (int i = 0; i < w.length; i++) {
            w[i] = (2 * random.nextDouble() - 1) * bound;
        }
        double[] b = new double[k];
        Arrays.fill(b, 1e-2);
        return of(be, scope, classes, w, b);
    }

    /** A head with these weights [classes * dim] and biases [classes], in {@code scope}. */
    static DifferentiableHead of(Backend be, Scope scope, List<String> classes, double[] weight, double[] bias) {
        int k = classes.size();
        if (k < 2 || bias.length != k || weight.length % k != 0) {
            throw new IllegalArgumentException(k + " classes need " + k + " biases and " + k + " weight rows, got "
                    + bias.length + " and " + weight.length + " values");
        }
        Parameter w = new Parameter("weight", filled(be, scope, weight, k, weight.length / k), true);
        Parameter b = new Parameter("bias", filled(be, scope, bias, k), true);
        return new DifferentiableHead(classes, new Linear(w, b));
    }

    private static Tensor filled(Backend be, Scope scope, double[] values, int... shape) {
        Tensor out = be.zeros(DType.F32, shape, scope);
        try (Scope tmp = Scope.open("head-init")) {
            be.copy(Tensors.of(be, DType.F32, values, shape), out);
        }
        return out;
    }

    @Override
    public List<String> classes() {
        return classes;
    }

    Module module() {
        return linear;
    }

    double[] weight() {
        return Tensors.toDoubles(linear.weight().value());
    }

    double[] bias() {
        return Tensors.toDoubles(linear.bias().value());
    }

    /** Softmax of the logits, in double from the stored weights. */
    @Override
    public double[] probabilities(double[] e) {
        return probabilities(e, weight(), bias());
    }

    /** The weights are read out of the tensor once for all the embeddings, not once each. */
    @Override
    public double[][] probabilities(double[][] embeddings) {
        double[] w = weight();
        double[] b = bias();
        double[][] out = new double[embeddings.length][];
        for (int i = 0; i < out.length; i++) {
            out[i] = probabilities(embeddings[i], w, b);
        }
        return out;
    }

    private double[] probabilities(double[] e, double[] w, double[] b) {
        double[] z = new double[classes.size()];
        for (int k = 0; k < z.length; k++) {
            double s = b[k];
            for (int j = 0; j < e.length; j++) {
                s += w[k * e.length + j] * e[j];
            }
            z[k] = s;
        }
        double lse = LogisticRegressionHead.logSumExp(z);
        for (int k = 0; k < z.length; k++) {
            z[k] = Math.exp(z[k] - lse);
        }
        return z;
    }

    /**
     * Trains the head (and the body when {@code end_to_end}) on {@code texts} with class indices
     * {@code y}. A frozen body embeds the texts once, without dropout: setfit re-embeds them every
     * step with the body's dropout on, which adds noise but no learning to a frozen body.
     */
    void fit(SentenceEmbedder body, List<String> texts, int[] y, SetFitConfig config, Optimizers optimizer, ClassifierContext.Stage stage) {
        List<Parameter> head = List.copyOf(linear.namedParameters().values());
        List<Parameter> bodyParams = config.endToEnd()
                ? body.encoder().module().namedParameters().values().stream().filter(Parameter::trainable).toList() : List.of();
        double[][] frozen = config.endToEnd() ? null : body.encode(texts, SetFitModel.ENCODE_BATCH, n -> { });
        Module bodyModule = body.encoder().module();
        boolean wasTraining = bodyModule.isTraining();
        bodyModule.setTraining(true);
        DropoutSeeds seeds = new DropoutSeeds(config.seed());
        bodyModule.setDropoutSeeds(config.endToEnd() ? seeds : null);
        long step = 0;
        Random order = new Random(config.seed());
        List<Integer> indices = new ArrayList<>();
        for (int i = 0; i < texts.size(); i++) {
            indices.add(i);
        }
        try {
            for (int epoch = 0; epoch < config.headEpochs(); epoch++) {
                double decay = Math.pow(0.5, epoch / 5);
                Collections.shuffle(indices, order);
                for (int start = 0; start < indices.size(); start += config.headBatchSize()) {
                    List<Integer> batch = indices.subList(start, Math.min(indices.size(), start + config.headBatchSize()));
                    seeds.startMicroBatch(step++, 0);
                    double loss = step(body, texts, frozen, y, batch);
                    optimizer.step(bodyParams, config.l2Weight(), config.bodyLearningRate().get(1) * decay);
                    optimizer.step(head, config.l2Weight(), config.headLearningRate() * decay);
                    Optimizers.zeroGrad(bodyParams);
                    Optimizers.zeroGrad(head);
                    stage.advance(1, String.format("loss %.4f", loss));
                }
            }
        } finally {
            bodyModule.setTraining(wasTraining);
            bodyModule.setDropoutSeeds(null);
        }
    }

    /** Head steps {@link #fit} takes. */
    static long steps(int texts, SetFitConfig config) {
        return (long) config.headEpochs() * ((texts + config.headBatchSize() - 1) / config.headBatchSize());
    }

    private double step(SentenceEmbedder body, List<String> texts, double[][] frozen, int[] y, List<Integer> batch) {
        try (Scope s = Scope.open("head-step")) {
            Tensor x; // [batch, dim]
            if (frozen != null) {
                int dim = frozen[0].length;
                double[] rows = new double[batch.size() * dim];
                for (int i = 0; i < batch.size(); i++) {
                    System.arraycopy(frozen[batch.get(i)], 0, rows, i * dim, dim);
                }
                x = Tensors.of(body.backend(), DType.F32, rows, batch.size(), dim);
            } else {
                x = body.embed(batch.stream().map(texts::get).toList());
            }
            long[] targets = batch.stream().mapToLong(i -> y[i]).toArray();
            Tensor loss = F.crossEntropy(linear.forward(x), Tensors.ofLongs(x.backend(), targets, targets.length), -100, F.Reduction.MEAN);
            Autograd.backward(loss);
            try (GradMode.Region ng = GradMode.noGrad()) {
                return Tensors.item(loss);
            }
        }
    }
}
