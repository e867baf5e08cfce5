package ai.attune.plugins.model.llama;

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
import java.util.Set;
import java.util.function.UnaryOperator;

/** The Llama architecture family: Llama 2/3, Mistral, Qwen2/2.5, SmolLM, TinyLlama. */
@Component(service = ModelFamily.class, property = ModelFamily.PROPERTY + "=llama")
public final class LlamaFamily implements ModelFamily {
    private static final Set<String> MODEL_TYPES = Set.of("llama", "mistral", "qwen2");
    private static final Set<String> ARCHITECTURES = Set.of("LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM");

    @Override
    public boolean accepts(ModelConfig config) {
        return MODEL_TYPES.contains(config.modelType()) || config.architectures().stream().anyMatch(ARCHITECTURES::contains);
    }

    @Override
    public Module create(ModelConfig config, Backend backend, DType dtype, Scope scope) throws IOException {
        return new LlamaForCausalLM(LlamaConfig.from(config), backend, dtype, scope);
    }

    @Override
    public Module load(ModelConfig config, SafetensorsReader weights, Backend backend, DType dtype, Scope scope) throws IOException {
        Module model = new LlamaForCausalLM(LlamaConfig.from(config, weights), backend, dtype, scope);
        Weights.load(model, weights, UnaryOperator.identity());
        return model;
    }
}
