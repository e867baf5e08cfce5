package ai.attune.api.spi;

import ai.attune.api.nn.DropoutSeeds;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;

import java.nio.file.Path;

/**
 * What a method needs from the job to prepare a model: the backend, the dtype and scope new
 * parameters live in, the run's seed (for initialisation), the dropout seed sequence, and the base
 * model's directory (for its config and tokenizer files when saving).
 */
public record MethodContext(Backend backend, DType dtype, Scope scope, long seed, DropoutSeeds dropout, Path baseModelDir) {}
