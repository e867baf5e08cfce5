package ai.attune.runtime.cli;

import ai.attune.runtime.classify.ClassifierRun;
import ai.attune.runtime.host.AttuneRuntime;
import ai.attune.runtime.host.RuntimeLayout;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** {@code attune predict}: the class of each line of a text file, with a model saved by {@code attune setfit --out}. */
@Command(name = "predict", description = "Classify one text per line with a model saved by 'attune setfit --out'; prints one label per line.")
public final class PredictCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "DIR", description = "Directory written by 'attune setfit --out'.")
    Path model;

    @Option(names = "--input", required = true, paramLabel = "TEXTS.txt", description = "One text per line (UTF-8).")
    Path input;

    @Option(names = "--method", defaultValue = "setfit", description = "The classifier method that saved the model (default: ${DEFAULT-VALUE}).")
    String method;

    @Override
    public void run() {
        PrintWriter out = spec.commandLine().getOut();
        try {
            List<String> texts = Files.readAllLines(input, StandardCharsets.UTF_8);
            try (AttuneRuntime rt = AttuneRuntime.boot(RuntimeLayout.fromSystem())) {
                for (String label : ClassifierRun.predict(rt.plugins(), model, method, texts, spec.commandLine().getErr())) {
                    out.println(label);
                }
                out.flush();
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e.getMessage(), e);
        }
    }
}
