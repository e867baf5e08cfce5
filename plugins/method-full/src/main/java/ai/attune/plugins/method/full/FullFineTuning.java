package ai.attune.plugins.method.full;

import ai.attune.api.model.ModelDirectoryWriter;
import ai.attune.api.nn.Module;
import ai.attune.api.nn.Parameter;
import ai.attune.api.spi.Method;
import ai.attune.api.spi.MethodContext;
import org.osgi.service.component.annotations.Component;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Full fine-tuning: every weight of the model trains, and the result is a complete Hugging Face
 * model directory (the base's config and tokenizer files with the trained weights).
 */
@Component(service = Method.class, property = Method.PROPERTY + "=full")
public final class FullFineTuning implements Method<FullConfig> {

    @Override
    public Class<FullConfig> configType() {
        return FullConfig.class;
    }

    @Override
    public FullConfig defaultConfig() {
        return FullConfig.DEFAULTS;
    }

    /** Marks every parameter trainable; returns them in {@code namedParameters()} order (a tied weight once). */
    @Override
    public List<Parameter> apply(Module model, FullConfig config, MethodContext context) {
        List<Parameter> params = new ArrayList<>(model.namedParameters().values());
        for (Parameter p : params) {
            p.setTrainable(true);
        }
        return params;
    }

    @Override
    public void save(Module model, FullConfig config, MethodContext context, Path out) throws IOException {
        if (context.baseModelDir() == null) {
            throw new IllegalArgumentException("full fine-tuning saves a model directory with the base model's config.json "
                    + "and tokenizer files, but the job names no base model directory");
        }
        ModelDirectoryWriter.write(model, context.baseModelDir(), out);
    }
}
