package ai.attune.plugins.setfit;

import ai.attune.api.spi.ClassifierContext;
import ai.attune.api.spi.ClassifierMethod;
import ai.attune.api.spi.TextClassifier;
import org.osgi.service.component.annotations.Component;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;

/**
 * SetFit (Tunstall et al. 2022, "Efficient Few-Shot Learning Without Prompts"): contrastive
 * fine-tuning of the sentence-transformer body on pairs of the few-shot examples, then a head on
 * the new embeddings: scikit-learn-style logistic regression by default, or the differentiable
 * head, optionally trained end to end with the body.
 */
@Component(service = ClassifierMethod.class, property = ClassifierMethod.PROPERTY + "=setfit")
public final class SetFitMethod implements ClassifierMethod<SetFitConfig> {
    @Override
    public Class<SetFitConfig> configType() {
        return SetFitConfig.class;
    }

    @Override
    public SetFitConfig defaultConfig() {
        return SetFitConfig.DEFAULTS;
    }

    @Override
    public SetFitConfig frozenBody(SetFitConfig c) {
        return new SetFitConfig(c.batchSize(), List.of(0, c.headEpochs()), c.bodyLearningRate(), c.headLearningRate(), c.l2Weight(), c.maxSteps(),
                c.samplingStrategy(), c.numIterations(), c.loss(), c.distanceMetric(), c.margin(), c.samplesPerLabel(), c.warmupProportion(),
                c.maxGradNorm(), false, c.useDifferentiableHead(), c.maxLength(), c.seed());
    }

    @Override
    public TextClassifier fit(List<String> texts, List<String> labels, SetFitConfig config, ClassifierContext context) {
        if (texts.size() != labels.size() || texts.isEmpty()) {
            throw new IllegalArgumentException("need one label per text and at least one text, got " + texts.size() + " and " + labels.size());
        }
        List<String> classes = new ArrayList<>(new TreeSet<>(labels));
        if (classes.size() < 2) {
            throw new IllegalArgumentException("only one class (" + classes.getFirst() + "); a classifier needs at least 2");
        }
        int[] y = labels.stream().mapToInt(classes::indexOf).toArray();
        SentenceEmbedder body = embedder(context, config.maxLength());
        Optimizers optimizer = config.bodyEpochs() > 0 || config.useDifferentiableHead() ? new Optimizers(context) : null;
        if (config.bodyEpochs() > 0) {
            BodyTrainer trainer = new BodyTrainer(y, config);
            BodyTrainer.Result trained;
            try (ClassifierContext.Stage stage = context.stage("setfit body", trainer.totalSteps())) {
                trained = trainer.train(body, texts, optimizer, (step, total, loss) -> stage.advance(1, String.format("loss %.4f", loss)));
            }
            context.bodyTrained(trained.throughput());
        }
        Head head;
        if (config.useDifferentiableHead()) {
            DifferentiableHead d = DifferentiableHead.init(context.backend(), context.scope(), context.encoder().dimension(), classes, config.seed());
            try (ClassifierContext.Stage stage = context.stage("setfit head", DifferentiableHead.steps(texts.size(), config))) {
                d.fit(body, texts, y, config, optimizer, stage);
            }
            head = d;
        } else {
            try (ClassifierContext.Stage stage = context.stage("setfit head", texts.size())) {
                double[][] x = body.encode(texts, SetFitModel.ENCODE_BATCH, n -> stage.advance(n, null));
                head = LogisticRegressionHead.fit(x, y, classes, LogisticRegressionHead.DEFAULT_C);
            }
        }
        return new SetFitModel(body, head, context.modelDir());
    }

    @Override
    public TextClassifier load(Path dir, ClassifierContext context) throws IOException {
        Head head = SetFitDirectory.readHead(dir, context.backend(), context.scope());
        return new SetFitModel(embedder(context, null), head, dir);
    }

    private static SentenceEmbedder embedder(ClassifierContext context, Integer maxLength) {
        return new SentenceEmbedder(context.encoder(), context.backend(), context::tokenize, maxLength != null ? maxLength : context.maxSeqLength());
    }
}
