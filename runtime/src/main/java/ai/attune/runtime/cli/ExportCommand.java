package ai.attune.runtime.cli;

import ai.attune.api.model.ModelDirectoryWriter;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.runtime.host.AttuneRuntime;
import ai.attune.runtime.host.RuntimeLayout;
import ai.attune.runtime.model.LoadedModel;
import ai.attune.runtime.model.ModelLoader;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** {@code attune export}: a PEFT LoRA adapter merged into its base model, written as a full Hugging Face model directory. */
@Command(name = "export", description = "Merge a PEFT LoRA adapter into its base model and write a full Hugging Face model directory.")
public final class ExportCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "DIR", description = "The base model directory.")
    String model;

    @Option(names = "--adapter", required = true, paramLabel = "DIR", description = "The PEFT LoRA adapter directory.")
    Path adapter;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Where the merged model goes; must not exist yet.")
    Path out;

    @Override
    public void run() {
        // Refused before minutes of loading; the merged model is then written under a temporary name and renamed.
        if (Files.exists(out)) {
            throw new IllegalArgumentException(out + ": already exists; choose a new output directory");
        }
        try (AttuneRuntime rt = AttuneRuntime.boot(RuntimeLayout.fromSystem()); Scope job = Scope.open("export")) {
            ModelLoader loader = new ModelLoader(rt.plugins());
            Path base = ModelLoader.resolve(model);
            var method = loader.adapterMethod(adapter);
            if (!method.mergesIntoWeights()) {
                throw new IllegalArgumentException(adapter.resolve("adapter_config.json") + ": this adapter ("
                        + method.getClass().getSimpleName() + ") adds to the model's forward and cannot be merged into its weights; "
                        + "use it with --adapter instead");
            }
            LoadedModel m = loader.load(base, adapter, loader.backend(null), DType.F32, job);
            m.tokenizer().close();
            ModelDirectoryWriter.write(m.module(), base, out);
            spec.commandLine().getOut().println(out);
        } catch (IOException e) {
            throw new UncheckedIOException(e.getMessage(), e);
        }
    }
}
