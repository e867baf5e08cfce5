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

    @Test
    void theHandshakeNeedsTheToken() throws Exception {
        try (ServerFixture f = new ServerFixture(dir.resolve("runs"), dir, new FakeRunner(1))) {
            assertThrows(CompletionException.class, () -> open(f, null, new Frames()));
            assertThrows(CompletionException.class, () -> open(f, "b".repeat(64), new Frames()));
        }
    }
}
