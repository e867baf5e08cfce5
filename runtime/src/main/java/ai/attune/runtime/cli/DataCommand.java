package ai.attune.runtime.cli;

import ai.attune.api.data.Sample;
import ai.attune.api.model.ModelConfig;
import ai.attune.api.spi.DataFormat;
import ai.attune.runtime.data.DataFormats;
import ai.attune.runtime.data.DataInspection;
import ai.attune.runtime.data.DataSpec;
import ai.attune.runtime.host.AttuneRuntime;
import ai.attune.runtime.host.PluginCatalog;
import ai.attune.runtime.host.RuntimeLayout;
import ai.attune.runtime.model.ModelLoader;
import ai.attune.runtime.text.Tokenizer;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** {@code attune data}: look at training data before spending a run on it. */
@Command(name = "data", description = "Check training data.", subcommands = {DataCommand.Inspect.class})
public final class DataCommand implements Runnable {
    @Spec
    CommandSpec spec;

    /** The registry to find data formats in; null boots the installation's runtime when a format is needed. */
    private final PluginCatalog catalog;

    public DataCommand() {
        this(null);
    }

    /** With the formats of {@code catalog} (a test's registry) instead of a booted runtime's. */
    public DataCommand(PluginCatalog catalog) {
        this.catalog = catalog;
    }

    /** Runs {@code work} with the installed plugins: the given registry's, or those of the runtime booted for it. */
    <T> T withPlugins(PluginWork<T> work) throws IOException {
        if (catalog != null) {
            return work.apply(catalog);
        }
        try (AttuneRuntime rt = AttuneRuntime.boot(RuntimeLayout.fromSystem())) {
            return work.apply(rt.plugins());
        }
    }

    interface PluginWork<T> {
        T apply(PluginCatalog catalog) throws IOException;
    }

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /**
     * {@code attune data inspect FILE --format F}: rows, empty rows, duplicates, class balance and,
     * with a model's tokenizer, token lengths. A malformed row fails as training would: one line,
     * {@code attune: file:line: problem}.
     */
    @Command(name = "inspect", description = "Count rows, empty rows and duplicates; with --model, token lengths; for classification, the class balance.")
    public static final class Inspect implements Runnable {
        @Spec
        CommandSpec spec;

        @ParentCommand
        DataCommand data;

        @Parameters(index = "0", paramLabel = "FILE", description = "The data: .jsonl (one JSON object per line) or .csv (with a header).")
        Path file;

        @Option(names = "--format", required = true, paramLabel = "F",
                description = "An installed data format ('attune plugins' lists them) or classification.")
        String format;

        @Option(names = "--model", paramLabel = "DIR|NAME", description = "Model whose tokenizer measures token lengths.")
        String model;

        @Option(names = "--max-seq-len", paramLabel = "N", description = "Count the rows longer than N tokens (default: the model's positions).")
        Integer maxSeqLen;

        @Option(names = "--text-column", defaultValue = "text", paramLabel = "C", description = "Classification text column (default: ${DEFAULT-VALUE}).")
        String textColumn;

        @Option(names = "--label-column", defaultValue = "label", paramLabel = "L", description = "Classification label column (default: ${DEFAULT-VALUE}).")
        String labelColumn;

        @Override
        public void run() {
            if (maxSeqLen != null && (model == null || maxSeqLen <= 0)) {
                throw new CommandLine.ParameterException(spec.commandLine(), model == null
                        ? "--max-seq-len needs --model, whose tokenizer counts the tokens" : "--max-seq-len must be positive");
            }
            try {
                // A language-model format must be installed: it is looked up before the file or a model is read.
                List<String> report = format.equals(DataSpec.CLASSIFICATION) ? report(null)
                        : data.withPlugins(plugins -> report(DataFormats.find(plugins, format, "--format")));
                PrintWriter out = spec.commandLine().getOut();
                report.forEach(out::println);
                out.flush();
            } catch (IOException e) {
                throw new UncheckedIOException(e.getMessage(), e);
            }
        }

        /** The report on the file in {@code dataFormat} (null for classification), with token lengths when there is a model. */
        private List<String> report(DataFormat<Sample> dataFormat) throws IOException {
            if (model == null) {
                return inspect(dataFormat, null, 0, null);
            }
            Path dir = ModelLoader.resolve(model);
            // A tokenizer-only directory (no config.json) still gives lengths, just no position limit.
            Integer positions = null;
            try (Tokenizer tok = Tokenizer.load(dir)) {
                int vocab = tok.vocabSize();
                if (Files.exists(dir.resolve("config.json"))) {
                    ModelConfig config = ModelConfig.read(dir);
                    vocab = config.intOr("vocab_size", vocab);
                    positions = config.has("max_position_embeddings") ? config.intOr("max_position_embeddings", 0) : null;
                }
                Integer limit = maxSeqLen == null ? positions : positions == null ? maxSeqLen : Math.min(maxSeqLen, positions);
                return inspect(dataFormat, tok, vocab, limit);
            }
        }

        private List<String> inspect(DataFormat<Sample> dataFormat, Tokenizer tok, int vocab, Integer limit) throws IOException {
            return dataFormat == null ? DataInspection.classification(file, tok, limit, textColumn, labelColumn).lines()
                    : DataInspection.of(file, format, dataFormat, tok, vocab, limit).lines();
        }
    }
}
