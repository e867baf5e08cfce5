package ai.attune.runtime.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.vertx.core.Vertx;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/** A lab server with a fake runner on an ephemeral loopback port, and an HTTP client for it. */
final class ServerFixture implements AutoCloseable {
    static final String TOKEN = "a".repeat(64);
    final Vertx vertx;
    final LabServer server;
    final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    final ObjectMapper json = new ObjectMapper();

    ServerFixture(Path runs, Path dataRoot, JobRunner runner) throws Exception {
        vertx = Vertx.vertx();
        LabServer.Config c = new LabServer.Config("127.0.0.1", 0, runs, dataRoot, List.of(dataRoot), 1, LabServer.Config.DEFAULT_BODY_LIMIT, null, null);
        server = LabServer.start(vertx, c, ServerToken.of(TOKEN), runner, () -> List.of(json.createObjectNode().put("kind", "optimizer").put("name", "adamw")),
                new ServerMetrics(ServerMetrics.newRegistry()));
    }

    HttpResponse<String> send(String method, String path, String body, String token) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path)).timeout(Duration.ofSeconds(30))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (token != null) {
            b.header("Authorization", "Bearer " + token);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    HttpResponse<String> get(String path) throws Exception {
        return send("GET", path, null, TOKEN);
    }

    HttpResponse<String> post(String path, String body) throws Exception {
        return send("POST", path, body, TOKEN);
    }

    JsonNode read(HttpResponse<String> r) throws Exception {
        return json.readTree(r.body());
    }

    /** Polls until the job reaches {@code state}, or fails after 30 s. */
    JsonNode await(String id, String state) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        JsonNode s;
        do {
            s = read(get("/jobs/" + id));
            if (s.path("state").asText().equals(state)) {
                return s;
            }
            Thread.sleep(10);
        } while (System.nanoTime() < deadline);
        throw new AssertionError("job " + id + " did not become " + state + ": " + s);
    }

    @Override
    public void close() {
        server.close();
        vertx.close().await();
    }
}
