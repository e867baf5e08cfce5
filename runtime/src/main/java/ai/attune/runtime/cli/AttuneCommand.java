package ai.attune.runtime.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.HelpCommand;
import picocli.CommandLine.IVersionProvider;
import picocli.CommandLine.ScopeType;
import ai.attune.runtime.host.RuntimeLayout;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.jar.Attributes;
import java.util.jar.JarFile;
import java.util.stream.Stream;

/** The top-level {@code attune} command. */
@Command(name = "attune",
        mixinStandardHelpOptions = true,
        scope = ScopeType.INHERIT, // every subcommand answers --help/-h and --version/-V
        versionProvider = AttuneCommand.Version.class,
        description = "Fine-tunes language models on the JVM with hot-swappable plugin techniques.",
        subcommands = {PluginsCommand.class, TrainCommand.class, ExportCommand.class, QuantizeCommand.class, GenerateCommand.class, ScoreCommand.class, EmbedCommand.class,
                DataCommand.class, MergeCommand.class, EvalCommand.class, SetfitCommand.class, PredictCommand.class, ServeCommand.class, RemoteCommand.class,
                BenchCommand.class, PlanCommand.class, HelpCommand.class})
public final class AttuneCommand implements Runnable {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /**
     * The version Maven filtered into the jar, the JVM, and each bundle in {@code plugins/} and
     * {@code deploy/} with its manifest version: read from the jars, so nothing is started.
     */
    static final class Version implements IVersionProvider {
        @Override
        public String[] getVersion() throws IOException {
            Properties p = new Properties();
            try (InputStream in = AttuneCommand.class.getResourceAsStream("/attune-version.properties")) {
                if (in != null) {
                    p.load(in);
                }
            }
            List<String> lines = new ArrayList<>(List.of("attune " + p.getProperty("version", "unknown"),
                    "Java " + Runtime.version() + " (" + System.getProperty("java.vm.vendor") + ")"));
            RuntimeLayout layout = RuntimeLayout.fromSystem();
            for (Path dir : List.of(layout.plugins(), layout.deploy())) {
                lines.addAll(bundles(dir));
            }
            return lines.toArray(String[]::new);
        }

        private static List<String> bundles(Path dir) throws IOException {
            if (!Files.isDirectory(dir)) {
                return List.of();
            }
            List<String> out = new ArrayList<>();
            try (Stream<Path> jars = Files.list(dir)) {
                for (Path jar : jars.filter(j -> j.toString().endsWith(".jar")).sorted().toList()) {
                    try (JarFile f = new JarFile(jar.toFile())) {
                        Attributes a = f.getManifest() == null ? null : f.getManifest().getMainAttributes();
                        String name = a == null ? null : a.getValue("Bundle-SymbolicName");
                        if (name != null) {
                            out.add("  " + name.split(";")[0].trim() + " " + a.getValue("Bundle-Version") + "  (" + dir.getFileName() + "/" + jar.getFileName() + ")");
                        }
                    } catch (IOException e) {
                        out.add("  " + jar.getFileName() + ": not a readable jar (" + e.getMessage() + ")");
                    }
                }
            }
            return out;
        }
    }
}
