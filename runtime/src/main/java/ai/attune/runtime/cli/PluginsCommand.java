package ai.attune.runtime.cli;

import ai.attune.runtime.host.AttuneRuntime;
import ai.attune.runtime.host.PluginCatalog;
import ai.attune.runtime.host.RuntimeLayout;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.util.List;

/** {@code attune plugins}: every registered technique with its kind, name and bundle version. */
@Command(name = "plugins", description = "List the registered techniques: kind, name, bundle and version.")
public final class PluginsCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        try (AttuneRuntime rt = AttuneRuntime.boot(RuntimeLayout.fromSystem())) {
            List<PluginCatalog.Entry> entries = rt.plugins().list();
            PrintWriter out = spec.commandLine().getOut();
            // Names are the plugins' own, some longer than the usual column: it fits the longest.
            int name = Math.max(16, entries.stream().mapToInt(e -> e.name().length()).max().orElse(0));
            String fmt = "%-12s %-" + name + "s %-32s %s%n";
            out.printf(fmt, "KIND", "NAME", "BUNDLE", "VERSION");
            for (PluginCatalog.Entry e : entries) {
                out.printf(fmt, e.kind().label(), e.name(), e.bundle(), e.version());
            }
            out.flush();
        }
    }
}
