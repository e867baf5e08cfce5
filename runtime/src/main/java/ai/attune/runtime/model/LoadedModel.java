package ai.attune.runtime.model;

import ai.attune.api.model.ModelConfig;
import ai.attune.api.nn.Module;
import ai.attune.api.tensor.Backend;
import ai.attune.runtime.text.Tokenizer;

import java.util.Set;

/** A model ready to run: its module tree, config, tokenizer, backend and the ids that end generation. */
public record LoadedModel(Module module, ModelConfig config, Tokenizer tokenizer, Backend backend, Set<Long> eosIds) {}
