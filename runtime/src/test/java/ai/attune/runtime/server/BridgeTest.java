package ai.attune.runtime.server;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;

import static org.junit.jupiter.api.Assertions.assertThrows;

/** The event-bus bridge over a raw WebSocket: per-address permissions, and the handshake needs the token. */
class BridgeTest {
    @TempDir
    Path dir;

    static final class Frames implements WebSocket.Listener {
        final BlockingQueue<String> frames = new LinkedBlockingQueue<>();
        private final StringBuilder partial = new StringBuilder();

        @Override
        public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
            partial.append(data);
            if (last) {
                frames.add(partial.toString());
                partial.setLength(0);
            }
            ws.request(1);
            return null;
        }
    }

    private WebSocket open(ServerFixture f, String token, Frames frames) {
        return HttpClient.newHttpClient().newWebSocketBuilder().connectTimeout(Duration.ofSeconds(5))
                .buildAsync(URI.create("ws://127.0.0.1:" + f.server.port() + "/eventbus/websocket" + (token == null ? "" : "?access_token=" + token)), frames)
                .join();
    }

    /** Granted addresses answer; others are refused with access_denied (the raw transport sends binary frames). */
    @Test
    void grantedAddressesAnswerAndOthersAreRefused() throws Exception {
        try (ServerFixture f = new ServerFixture(dir.resolve("runs"), dir, new FakeRunner(1))) {
            java.util.concurrent.LinkedBlockingQueue<String> frames = new java.util.concurrent.LinkedBlockingQueue<>();
            io.vertx.core.http.WebSocket ws = f.vertx.createWebSocketClient().connect(new io.vertx.core.http.WebSocketConnectOptions()
                    .setHost("127.0.0.1").setPort(f.server.port()).setURI("/eventbus/websocket?access_token=" + ServerFixture.TOKEN)).await();
            ws.handler(b -> frames.add(b.toString()));
            ws.writeTextMessage("{\"type\":\"send\",\"address\":\"attune.jobs.list\",\"replyAddress\":\"r1\",\"body\":{}}").await();
            org.junit.jupiter.api.Assertions.assertEquals("{\"type\":\"rec\",\"address\":\"r1\",\"body\":{\"jobs\":[]}}",
                    frames.poll(20, java.util.concurrent.TimeUnit.SECONDS));
            ws.writeTextMessage("{\"type\":\"send\",\"address\":\"attune.internal.shutdown\",\"replyAddress\":\"r2\",\"body\":{}}").await();
            org.junit.jupiter.api.Assertions.assertEquals("{\"type\":\"err\",\"body\":\"access_denied\"}",
                    frames.poll(20, java.util.concurrent.TimeUnit.SECONDS));
            ws.close().await();
        }
    }

    /** A job's control address takes commands over the bridge; the job's events, metrics and the recorded command included, come back on its events address. */
    @Test
    void aJobTakesControlAndReportsMetricsOverTheBridge() throws Exception {
        try (ServerFixture f = new ServerFixture(dir.resolve("runs"), dir, new FakeRunner(20))) {
            java.nio.file.Files.writeString(dir.resolve("d.txt"), "hello\n");
            java.nio.file.Files.createDirectories(dir.resolve("model"));
            String id = f.read(f.post("/jobs", "{\"model\": \"model\", \"method\": \"lora\", \"data\": {\"format\": \"text\", \"path\": \"d.txt\"},"
                    + " \"train\": {\"max_steps\": 1000, \"optimizer\": {\"name\": \"adamw\", \"lr\": 0.01}}, \"output\": \"x\"}")).path("id").asText();
            f.await(id, "running");
            java.util.concurrent.LinkedBlockingQueue<String> frames = new java.util.concurrent.LinkedBlockingQueue<>();
            io.vertx.core.http.WebSocket ws = f.vertx.createWebSocketClient().connect(new io.vertx.core.http.WebSocketConnectOptions()
                    .setHost("127.0.0.1").setPort(f.server.port()).setURI("/eventbus/websocket?access_token=" + ServerFixture.TOKEN)).await();
            ws.handler(b -> frames.add(b.toString()));
            ws.writeTextMessage("{\"type\":\"register\",\"address\":\"attune.jobs." + id + ".events\"}").await();
            ws.writeTextMessage("{\"type\":\"send\",\"address\":\"attune.jobs." + id + ".control\",\"replyAddress\":\"c1\","
                    + "\"body\":{\"command\":\"scale_lr\",\"factor\":0.25}}").await();
            boolean replied = false;
            boolean metric = false;
            boolean recorded = false;
            long deadline = System.nanoTime() + 30_000_000_000L;
            while (!(replied && metric && recorded) && System.nanoTime() < deadline) {
                String frame = frames.poll(1, java.util.concurrent.TimeUnit.SECONDS);
                if (frame == null) {
                    continue;
                }
                com.fasterxml.jackson.databind.JsonNode m = f.json.readTree(frame);
                com.fasterxml.jackson.databind.JsonNode body = m.path("body");
                replied |= m.path("address").asText().equals("c1") && body.path("queued").path("factor").asDouble() == 0.25;
                metric |= body.path("type").asText().equals("metric") && body.path("source").asText().equals("method/fake")
                        && body.path("values").path("fake_norm").asDouble() == 2.0 * body.path("step").asLong();
                recorded |= body.path("type").asText().equals("control") && body.path("factor").asDouble() == 0.25;
            }
            org.junit.jupiter.api.Assertions.assertTrue(replied, "the control address answered");
            org.junit.jupiter.api.Assertions.assertTrue(metric, "a technique metric arrived");
            org.junit.jupiter.api.Assertions.assertTrue(recorded, "the applied command arrived as an event");
            ws.close().await();
            f.post("/jobs/" + id + "/cancel", null);
            f.await(id, "cancelled");
        }
    }

    @Test
    void theHandshakeNeedsTheToken() throws Exception {
        try (ServerFixture f = new ServerFixture(dir.resolve("runs"), dir, new FakeRunner(1))) {
            assertThrows(CompletionException.class, () -> open(f, null, new Frames()));
            assertThrows(CompletionException.class, () -> open(f, "b".repeat(64), new Frames()));
        }
    }
}
