package ai.attune.plugins.model.gpt2;

import ai.attune.api.io.SafetensorsReader;
import ai.attune.api.model.ModelConfig;
import ai.attune.api.model.ModelFamily;
import ai.attune.api.model.ModelLoadException;
import ai.attune.api.model.Weights;
import ai.attune.api.nn.Module;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import org.osgi.service.component.annotations.Component;

import java.io.IOException;
import java.util.function.UnaryOperator;

/**
 * GPT-2 checkpoints ({@code model_type} "gpt2", {@code GPT2LMHeadModel}) as {@link Gpt2LMHeadModel}.
 * Reads both layouts found on the hub: names under {@code transformer.} as transformers saves them,
 * and the bare names ({@code h.0.attn.c_attn.weight}, {@code wte.weight}) of the original OpenAI
 * uploads. The {@code attn.bias} / {@code attn.masked_bias} buffers some files carry are the causal
 * mask, which the attention kernel applies itself, so they are not read.
 */
@Component(service = ModelFamily.class, property = ModelFamily.PROPERTY + "=gpt2")
public final class Gpt2Family implements ModelFamily {
    static final String MODEL_TYPE = "gpt2";
    static final String ARCHITECTURE = "GPT2LMHeadModel";
    private static final String PREFIX = "transformer.";

    @Override
    public boolean accepts(ModelConfig config) {
        return MODEL_TYPE.equals(config.modelType()) || config.architectures().contains(ARCHITECTURE);
    }

    @Override
    public Module create(ModelConfig config, Backend backend, DType dtype, Scope scope) throws IOException {
        refuseOthers(config, dtype);
        return new Gpt2LMHeadModel(Gpt2Config.from(config), backend, dtype, scope);
    }

    private void refuseOthers(ModelConfig config, DType dtype) throws ModelLoadException {
        if (!accepts(config)) {
            throw config.error("model_type '" + config.modelType() + "' with architectures " + config.architectures()
                    + " is not GPT-2 (model_type 'gpt2' or architecture '" + ARCHITECTURE + "')");
        }
        if (!dtype.isFloatingPoint()) {
            throw new ModelLoadException("GPT-2 parameters need a floating-point dtype, not " + dtype);
        }
    }

    @Override
    public Module load(ModelConfig config, SafetensorsReader weights, Backend backend, DType dtype, Scope scope) throws IOException {
        UnaryOperator<String> names = checkpointNames(weights);
        refuseOthers(config, dtype);
        Gpt2Config cfg = Gpt2Config.from(config);
        cfg.checkAgainst(config, weights, names);
        Module model = new Gpt2LMHeadModel(cfg, backend, dtype, scope);
        Weights.load(model, weights, names);
        return model;
    }

    /** Module path to tensor name: the identity, or without {@code transformer.} for the original OpenAI layout. */
    static UnaryOperator<String> checkpointNames(SafetensorsReader weights) {
        boolean bare = weights.names().stream().noneMatch(n -> n.startsWith(PREFIX)) && weights.contains("wte.weight");
        if (!bare) {
            return UnaryOperator.identity();
        }
        return path -> path.startsWith(PREFIX) ? path.substring(PREFIX.length()) : path;
    }
}
