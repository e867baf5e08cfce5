package ai.attune.runtime.cli;

import ai.attune.api.data.Sample;
import ai.attune.api.model.CausalLM;
import ai.attune.api.spi.DataFormat;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.runtime.data.DataFormats;
import ai.attune.runtime.data.DataSpec;
import ai.attune.runtime.data.TrainingData;
import ai.attune.runtime.host.AttuneRuntime;
import ai.attune.runtime.host.RuntimeLayout;
import ai.attune.runtime.model.LoadedModel;
import ai.attune.runtime.model.ModelLoader;
import ai.attune.runtime.train.Perplexity;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Locale;

/**
 * {@code attune eval}: a causal LM's perplexity on a data file, computed as training computes its
 * general-eval perplexity (the same data formats, truncation and loss).
 */
@Command(name = "eval", description = "Perplexity of a causal language model on a data file: exp of the mean next-token NLL.")
public final class EvalCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Mixin
    ModelOptions model;

    @Option(names = "--data", required = true, paramLabel = "FILE", description = "The text to score, in --format.")
    Path data;

    @Option(names = "--format", defaultValue = "text", paramLabel = "F",
            description = "An installed data format, as 'attune plugins' lists them (default: ${DEFAULT-VALUE}).")
    String format;

    @Option(names = "--max-seq-len", defaultValue = "0", paramLabel = "N",
            description = "Truncate each example to N tokens (default: the model's positions).")
    int maxSeqLen;

    @Option(names = "--batch-size", defaultValue = "8", paramLabel = "N", description = "Examples per forward pass (default: ${DEFAULT-VALUE}).")
    int batch;

    @Override
    public void run() {
        try (AttuneRuntime rt = AttuneRuntime.boot(RuntimeLayout.fromSystem()); Scope job = Scope.open("eval")) {
            DataFormat<Sample> dataFormat = DataFormats.find(rt.plugins(), format, "--format");
            ModelLoader loader = new ModelLoader(rt.plugins());
            LoadedModel m = loader.load(model.model, model.adapter, loader.backend(model.backend), DType.F32, job);
            if (!(m.module() instanceof CausalLM lm)) {
                m.tokenizer().close();
                throw new IllegalArgumentException(model.model + " is not a causal language model (" + m.config().modelType() + ")");
            }
            TrainingData d;
            try (var tok = m.tokenizer()) {
                d = TrainingData.load(data, new DataSpec(format, maxSeqLen, true, false, null), dataFormat, tok, lm.vocabSize(), lm.maxPositions());
            }
            double[] t = Perplexity.totals(lm, m.backend(), d.examples(), Math.max(1, batch));
            spec.commandLine().getOut().println(String.format(Locale.ROOT,
                    "{\"data\":\"%s\",\"examples\":%d,\"tokens\":%d,\"nll\":%.6f,\"perplexity\":%.4f}",
                    data.getFileName(), d.examples().size(), (long) t[1], t[0], Math.exp(t[0])));
        } catch (IOException e) {
            throw new UncheckedIOException(e.getMessage(), e);
        }
    }
}
