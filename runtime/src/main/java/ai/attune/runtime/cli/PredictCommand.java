package ai.attune.runtime.cli;

import ai.attune.api.model.SentenceEncoder;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.runtime.host.AttuneRuntime;
import ai.attune.runtime.host.RuntimeLayout;
import ai.attune.runtime.model.LoadedModel;
import ai.attune.runtime.model.ModelLoader;
import ai.attune.runtime.setfit.LogisticRegressionHead;
import ai.attune.runtime.setfit.SentenceEmbedder;
import ai.attune.runtime.setfit.SetFitClassifier;
import ai.attune.runtime.setfit.SetFitDirectory;
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

    @Override
    public void run() {
        PrintWriter out = spec.commandLine().getOut();
        try {
            LogisticRegressionHead head = SetFitDirectory.readHead(model);
            List<String> texts = Files.readAllLines(input, StandardCharsets.UTF_8);
            try (AttuneRuntime rt = AttuneRuntime.boot(RuntimeLayout.fromSystem()); Scope job = Scope.open("predict")) {
                ModelLoader loader = new ModelLoader(rt.plugins());
                LoadedModel m = loader.load(model, null, loader.backend(null), DType.F32, job);
                try (var tok = m.tokenizer()) {
                    if (!(m.module() instanceof SentenceEncoder enc)) {
                        throw new IllegalArgumentException(model + " is not a sentence encoder (model_type " + m.config().modelType() + ")");
                    }
                    SentenceEmbedder body = new SentenceEmbedder(enc, m.backend(), tok::encode, SetfitCommand.maxSeqLength(m));
                    for (String label : new SetFitClassifier(body, head).predict(texts, n -> { })) {
                        out.println(label);
                    }
                    out.flush();
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e.getMessage(), e);
        }
    }
}
