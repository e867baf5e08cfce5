package ai.attune.runtime.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.HelpCommand;
import picocli.CommandLine.IVersionProvider;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;

/** The top-level {@code attune} command. */
@Command(name = "attune",
        mixinStandardHelpOptions = true,
        versionProvider = AttuneCommand.Version.class,
        description = "Fine-tunes language models on the JVM with hot-swappable plugin techniques.",
        subcommands = {PluginsCommand.class, TrainCommand.class, ExportCommand.class, GenerateCommand.class, ScoreCommand.class, EmbedCommand.class,
                DataCommand.class, SetfitCommand.class, PredictCommand.class, ServeCommand.class, RemoteCommand.class,
                BenchCommand.class, HelpCommand.class})
public final class AttuneCommand implements Runnable {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /** Reads the version Maven filtered into the jar. */
    static final class Version implements IVersionProvider {
        @Override
        public String[] getVersion() throws IOException {
            Properties p = new Properties();
            try (InputStream in = AttuneCommand.class.getResourceAsStream("/attune-version.properties")) {
                if (in != null) {
                    p.load(in);
                }
            }
            return new String[] {"attune " + p.getProperty("version", "unknown"),
                    "Java " + Runtime.version() + " (" + System.getProperty("java.vm.vendor") + ")"};
        }
    }
}
