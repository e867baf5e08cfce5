package ai.attune.api.spi;

import ai.attune.api.nn.DropoutSeeds;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.text.TextTokenizer;

import java.nio.file.Path;

/**
 * What a method needs from the job to prepare a model: the backend, the dtype and scope new
 * parameters live in, the run's seed (for initialisation), the dropout seed sequence, the base
 * model's directory (for its config and tokenizer files when saving) and its tokenizer (for an
 * initialisation from text, as prompt tuning's {@code TEXT}).
 */
public record MethodContext(Backend backend, DType dtype, Scope scope, long seed, DropoutSeeds dropout, Path baseModelDir,
                            TextTokenizer tokenizer) {}
