package ai.attune.api.model;

import ai.attune.api.nn.Module;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

/**
 * A model architecture family ({@code llama}, {@code gpt2}, {@code bert}), registered with
 * {@code attune.model=<name>} and chosen by a checkpoint's {@code config.json}.
 */
public interface ModelFamily {
    String PROPERTY = "attune.model";

    /** Whether this family builds the model a parsed {@code config.json} describes ({@code model_type}, {@code architectures}). */
    boolean accepts(Map<String, Object> config);

    /** Builds the module tree from a Hugging Face model directory, weights converted to {@code dtype}. */
    Module load(Path dir, Backend backend, DType dtype, Scope scope) throws IOException;
}
