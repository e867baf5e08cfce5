package ai.attune.runtime.cli;

import ai.attune.runtime.host.AttuneRuntime;
import ai.attune.runtime.host.PluginCatalog;
import ai.attune.runtime.host.RuntimeLayout;
import ai.attune.runtime.server.LabServer;
import ai.attune.runtime.server.PluginWatcher;
import ai.attune.runtime.server.ServerMetrics;
import ai.attune.runtime.server.ServerToken;
import ai.attune.runtime.server.TrainJobRunner;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;

/** {@code attune serve}: the lab server (REST, event bus, metrics) until the process is stopped. */
@Command(name = "serve", description = "Run the lab server: submit and watch training jobs over REST and the Vert.x event bus.")
public final class ServeCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Option(names = "--port", defaultValue = "8080", description = "TCP port (0 picks a free one; default ${DEFAULT-VALUE}).")
    int port;

    @Option(names = "--host", defaultValue = "127.0.0.1", description = "Interface to bind (default loopback; name another explicitly to expose the server).")
    String host;

    @Option(names = "--runs", paramLabel = "DIR", description = "Where job run directories live (default <attune.home>/runs).")
    Path runs;

    @Option(names = "--data-root", paramLabel = "DIR", description = "A directory recipes may read models and data from; repeatable (default: the working directory).")
    List<Path> dataRoots = new ArrayList<>();

    @Option(names = "--concurrency", defaultValue = "1", description = "Jobs run at the same time (default ${DEFAULT-VALUE}).")
    int concurrency;

    @Option(names = "--token-file", paramLabel = "FILE", description = "The bearer token file (default <attune.home>/conf/server.token; created on first start).")
    Path tokenFile;

    @Option(names = "--keystore", paramLabel = "FILE", description = "A PKCS12 keystore: serve HTTPS.")
    Path keystore;

    @Option(names = "--keystore-password", paramLabel = "P", description = "The keystore's password.")
    String keystorePassword;

    @Override
    public void run() {
        if (concurrency < 1) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--concurrency must be at least 1");
        }
        RuntimeLayout layout = RuntimeLayout.fromSystem();
        PrintWriter out = spec.commandLine().getOut();
        try {
            ServerToken token = ServerToken.loadOrCreate(tokenFile != null ? tokenFile : layout.conf().resolve("server.token"));
            Path cwd = Path.of("").toAbsolutePath();
            LabServer.Config config = new LabServer.Config(host, port, runs != null ? runs : layout.home().resolve("runs"), cwd, dataRoots,
                    concurrency, LabServer.Config.DEFAULT_BODY_LIMIT, keystore, keystorePassword);
            ServerMetrics metrics = new ServerMetrics(ServerMetrics.newRegistry());
            // Event-bus and HTTP metrics come from Vert.x itself, which must be created with them enabled.
            AttuneRuntime rt = AttuneRuntime.boot(layout, java.util.Map.of(), () -> io.vertx.core.Vertx.builder()
                    .with(new io.vertx.core.VertxOptions().setMetricsOptions(new io.vertx.micrometer.MicrometerMetricsOptions().setEnabled(true)))
                    .withMetrics(new io.vertx.micrometer.MicrometerMetricsFactory(metrics.registry()))
                    .build());
            TrainJobRunner runner = new TrainJobRunner(rt::plugins, spec.commandLine().getErr());
            LabServer server;
            try {
                server = LabServer.start(rt.vertx(), config, token, runner, () -> plugins(rt.plugins()), metrics);
            } catch (IOException | RuntimeException e) {
                rt.close();
                throw e;
            }
            PluginWatcher watcher = new PluginWatcher(rt.context(), rt.vertx(), server.jobs());
            CountDownLatch stopped = new CountDownLatch(1);
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                watcher.close();
                server.close();
                rt.close();
                stopped.countDown();
            }, "attune-serve-shutdown"));
            String scheme = keystore != null ? "https" : "http";
            out.printf("attune server listening on %s://%s:%d (runs in %s)%n", scheme, host, server.port(), config.runs().toAbsolutePath());
            if (token.generated()) {
                // Shown this once; afterwards it is only in the owner-only token file.
                out.println("token (saved to " + (tokenFile != null ? tokenFile : layout.conf().resolve("server.token")) + "): " + token.value());
            }
            out.flush();
            stopped.await();
        } catch (IOException e) {
            throw new UncheckedIOException(e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static List<ObjectNode> plugins(PluginCatalog catalog) {
        ObjectMapper json = new ObjectMapper();
        return catalog.list().stream().map(e -> json.createObjectNode().put("kind", e.kind().name().toLowerCase())
                .put("name", e.name()).put("bundle", e.bundle()).put("version", e.version())).toList();
    }
}
