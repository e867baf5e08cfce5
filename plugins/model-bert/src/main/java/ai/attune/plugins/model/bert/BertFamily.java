package ai.attune.plugins.model.bert;

import ai.attune.api.io.SafetensorsReader;
import ai.attune.api.model.ModelConfig;
import ai.attune.api.model.ModelFamily;
import ai.attune.api.model.Weights;
import ai.attune.api.nn.Module;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import org.osgi.service.component.annotations.Component;

import java.io.IOException;

/**
 * The BERT family ({@code model_type: bert}): builds a {@link BertModel}, a sentence encoder. A
 * checkpoint of a task model ({@code BertForMaskedLM}, {@code BertForSequenceClassification}) names
 * its encoder weights {@code bert.*}; they load the same, and heads and the pooler are left unused.
 */
@Component(service = ModelFamily.class, property = ModelFamily.PROPERTY + "=bert")
public final class BertFamily implements ModelFamily {
    static final String TASK_PREFIX = "bert.";

    @Override
    public boolean accepts(ModelConfig config) {
        String type = config.modelType();
        if (!type.isEmpty()) {
            return type.equals("bert");
        }
        // Very old configs have no model_type; transformers then goes by the architecture.
        return config.architectures().stream().anyMatch(a -> a.startsWith("Bert"));
    }

    @Override
    public BertModel create(ModelConfig config, Backend backend, DType dtype, Scope scope) throws IOException {
        return create(config, BertConfig.from(config), backend, dtype, scope);
    }

    private static BertModel create(ModelConfig config, BertConfig c, Backend backend, DType dtype, Scope scope) throws IOException {
        BertModel model = new BertModel(c, backend, dtype, scope);
        model.setPooling(SentencePooling.of(config.dir()));
        return model;
    }

    @Override
    public Module load(ModelConfig config, SafetensorsReader weights, Backend backend, DType dtype, Scope scope) throws IOException {
        String prefix = !weights.contains("embeddings.word_embeddings.weight") && weights.contains(TASK_PREFIX + "embeddings.word_embeddings.weight")
                ? TASK_PREFIX : "";
        BertConfig c = BertConfig.from(config);
        c.checkAgainst(config, weights, prefix);
        BertModel model = create(config, c, backend, dtype, scope);
        Weights.load(model, weights, name -> prefix + name);
        return model;
    }
}
