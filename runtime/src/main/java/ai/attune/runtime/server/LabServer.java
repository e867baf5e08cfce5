package ai.attune.runtime.server;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.PfxOptions;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Supplier;

/**
 * The lab server: the job manager behind a REST API, event-bus addresses and an event-bus bridge,
 * all on the host's Vert.x instance. It knows nothing of Felix; {@link JobRunner} and the plugin
 * list are handed in, so tests run it with fakes.
 */
public final class LabServer implements AutoCloseable {
    /** Where and how to serve. {@code keystore} (PKCS12) turns TLS on. */
    public record Config(String host, int port, Path runs, Path workDir, List<Path> dataRoots, int concurrency, int bodyLimit,
                         Path keystore, String keystorePassword) {
        public static final int DEFAULT_BODY_LIMIT = 1 << 20;
    }

    private final Vertx vertx;
    private final JobManager jobs;
    private final JobBus bus;
    private final HttpServer http;

    private LabServer(Vertx vertx, JobManager jobs, JobBus bus, HttpServer http) {
        this.vertx = vertx;
        this.jobs = jobs;
        this.bus = bus;
        this.http = http;
    }

    /** Starts serving; blocks until the port is bound (call it off the event loop). */
    public static LabServer start(Vertx vertx, Config c, ServerToken token, JobRunner runner, Supplier<List<ObjectNode>> plugins,
                                  ServerMetrics metrics) throws IOException {
        java.util.concurrent.atomic.AtomicReference<JobBus> busRef = new java.util.concurrent.atomic.AtomicReference<>();
        JobManager.Listener publish = new JobManager.Listener() {
            @Override
            public void state(String id, ObjectNode view) {
                JobBus b = busRef.get();
                if (b != null) {
                    b.watch(id); // a new job's control address opens with its first state
                }
                metrics.state(id, view);
                vertx.eventBus().publish(JobBus.events(id), new JsonObject(view.deepCopy().put("type", "state").toString()));
            }

            @Override
            public void step(String id, ObjectNode event) {
                metrics.step(id, event);
                vertx.eventBus().publish(JobBus.events(id), new JsonObject(event.toString()));
            }
        };
        List<Path> roots = c.dataRoots() == null || c.dataRoots().isEmpty() ? List.of(c.workDir()) : c.dataRoots();
        JobManager jobs = new JobManager(new JobStore(c.runs(), new com.fasterxml.jackson.databind.ObjectMapper()),
                new PathGuard(c.workDir(), roots), runner, c.concurrency(), publish);
        metrics.bind(jobs);
        JobBus bus = new JobBus(vertx, jobs);
        busRef.set(bus);
        RestApi rest = new RestApi(vertx, jobs, token, plugins, metrics, c.bodyLimit());
        HttpServerOptions options = new HttpServerOptions().setHost(c.host()).setPort(c.port());
        if (c.keystore() != null) {
            options.setSsl(true).setKeyCertOptions(new PfxOptions().setPath(c.keystore().toString()).setPassword(c.keystorePassword()));
        }
        HttpServer http;
        try {
            // A connection-level failure (a TLS handshake, a reset) is one line on stderr, not a stack trace.
            http = vertx.createHttpServer(options).exceptionHandler(t -> System.err.println("attune: connection: " + JobManager.oneLine(String.valueOf(t))))
                    .requestHandler(rest.router()).listen().await();
        } catch (RuntimeException e) {
            bus.close();
            jobs.close();
            throw new IOException("cannot serve on " + c.host() + ":" + c.port() + ": " + JobManager.oneLine(e.getMessage()), e);
        }
        return new LabServer(vertx, jobs, bus, http);
    }

    public int port() {
        return http.actualPort();
    }

    public JobManager jobs() {
        return jobs;
    }

    Vertx vertx() {
        return vertx;
    }

    @Override
    public void close() {
        http.close().await();
        bus.close();
        jobs.close();
    }
}
