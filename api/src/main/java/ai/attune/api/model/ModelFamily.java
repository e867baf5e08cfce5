package ai.attune.api.model;

import ai.attune.api.io.SafetensorsReader;
import ai.attune.api.nn.Module;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;

import java.io.IOException;

/**
 * A model architecture family ({@code llama}, {@code gpt2}, {@code bert}), registered with
 * {@code attune.model=<name>} and chosen by a checkpoint's {@code config.json}
 * ({@code model_type}, {@code architectures}).
 */
public interface ModelFamily {
    String PROPERTY = "attune.model";

    /** Whether this family builds the model the config describes. */
    boolean accepts(ModelConfig config);

    /**
     * Builds the module tree the config describes, with zero parameters in {@code dtype} owned by
     * {@code scope}: for benchmarks and for initialisers that fill it. The result implements
     * {@link CausalLM} or {@link SentenceEncoder}.
     */
    Module create(ModelConfig config, Backend backend, DType dtype, Scope scope) throws IOException;

    /** Builds the module tree and loads the weights. */
    Module load(ModelConfig config, SafetensorsReader weights, Backend backend, DType dtype, Scope scope) throws IOException;
}
