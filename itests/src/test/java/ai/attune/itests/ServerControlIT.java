package ai.attune.itests;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

/**
 * A real LoRA job on {@code attune serve}, steered over the SockJS event-bus bridge as a browser
 * client would: its technique metrics arrive on {@code attune.jobs.<id>.events}, a {@code scale_lr}
 * command sent to {@code attune.jobs.<id>.control} halves every later learning rate (checked
 * against the same recipe run without it), and {@code attune train --resume} of a copy of the run,
 * cut back to an earlier checkpoint, applies the command again and ends with the same adapter bits.
 */
public class ServerControlIT {
    final ObjectMapper json = new ObjectMapper();

    /** The bridge's raw WebSocket transport: each frame one JSON message, text or binary. */
    static final class Frames implements WebSocket.Listener {
        final BlockingQueue<String> frames = new LinkedBlockingQueue<>();
        private final StringBuilder partial = new StringBuilder();

        @Override
        public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
            return add(ws, data.toString(), last);
        }

        @Override
        public CompletionStage<?> onBinary(WebSocket ws, ByteBuffer data, boolean last) {
            return add(ws, StandardCharsets.UTF_8.decode(data).toString(), last);
        }

        private CompletionStage<?> add(WebSocket ws, String s, boolean last) {
            partial.append(s);
            if (last) {
                frames.add(partial.toString());
                partial.setLength(0);
            }
            ws.request(1);
            return null;
        }
    }

    @Test
    public void aLoraJobReportsMetricsTakesAnLrCommandOverTheBridgeAndItsResumeReproducesIt() throws Exception {
        ServerIT server = new ServerIT();
        Path base = Files.createTempDirectory("attune-control");
        Path runs = base.resolve("runs");
        Path tokenFile = base.resolve("conf/server.token");
        int port = ServerIT.freePort();
        String recipe = ServerIT.recipe().replace("max_steps: 6", "max_steps: 30").replace("save_every: 2", "save_every: 5")
                .replace("eval_every: 2", "eval_every: 10");
        Process p = server.serve(port, runs, tokenFile);
        String controlled;
        String plain;
        List<JsonNode> received = new ArrayList<>();
        try {
            server.awaitUp(port, tokenFile, p);
            String token = Files.readString(tokenFile).strip();
            Frames frames = new Frames();
            WebSocket ws = HttpClient.newHttpClient().newWebSocketBuilder()
                    .buildAsync(URI.create("ws://127.0.0.1:" + port + "/eventbus/websocket?access_token=" + token), frames).get(30, TimeUnit.SECONDS);

            controlled = ServerIT.id(server.call(port, "POST", "/jobs", recipe, token).body());
            ws.sendText("{\"type\":\"register\",\"address\":\"attune.jobs." + controlled + ".events\"}", true).get();
            server.awaitState(port, token, controlled, "running");
            assertEquals(200, server.call(port, "POST", "/jobs/" + controlled + "/pause", null, token).statusCode());
            server.awaitState(port, token, controlled, "paused");
            ws.sendText("{\"type\":\"send\",\"address\":\"attune.jobs." + controlled + ".control\",\"replyAddress\":\"c1\","
                    + "\"body\":{\"command\":\"scale_lr\",\"factor\":0.5}}", true).get();
            ws.sendText("{\"type\":\"send\",\"address\":\"attune.jobs.resume\",\"replyAddress\":\"r1\",\"body\":{\"id\":\"" + controlled + "\"}}", true).get();
            boolean done = false;
            long deadline = System.currentTimeMillis() + 240_000;
            long pinged = System.currentTimeMillis();
            while (!done && System.currentTimeMillis() < deadline) {
                if (System.currentTimeMillis() - pinged > 4_000) {
                    ws.sendText("{\"type\":\"ping\"}", true).get(); // the bridge drops a client silent for 10 s, as vertx-eventbus.js knows
                    pinged = System.currentTimeMillis();
                }
                String f = frames.frames.poll(1, TimeUnit.SECONDS);
                if (f != null) {
                    JsonNode m = json.readTree(f);
                    received.add(m);
                    done = m.path("body").path("type").asText().equals("state") && m.path("body").path("state").asText().equals("completed");
                }
            }
            assertTrue("the job's completion arrived over the bridge", done);
            ws.sendClose(WebSocket.NORMAL_CLOSURE, "").get();

            plain = ServerIT.id(server.call(port, "POST", "/jobs", recipe, token).body());
            assertEquals("completed", server.awaitState(port, token, plain, "completed", "failed"));
        } finally {
            p.destroy();
            p.waitFor(30, TimeUnit.SECONDS);
        }

        assertTrue("the control address answered with the queued command", received.stream().anyMatch(m ->
                m.path("address").asText().equals("c1") && m.path("body").path("queued").path("factor").asDouble() == 0.5));
        assertTrue("LoRA's per-layer norms arrived as metric events", received.stream().map(m -> m.path("body")).anyMatch(b ->
                b.path("type").asText().equals("metric") && b.path("source").asText().equals("method/lora")
                        && b.path("values").path("ba_norm.model.layers.0.self_attn.q_proj").asDouble() > 0));
        List<JsonNode> controls = events(runs.resolve(controlled)).stream().filter(e -> e.path("type").asText().equals("control")).toList();
        assertEquals(1, controls.size());
        long at = controls.getFirst().path("step").asLong();

        Map<Long, Double> lr = lrs(runs.resolve(controlled));
        Map<Long, Double> plainLr = lrs(runs.resolve(plain));
        assertEquals(30, lr.size());
        for (long step = 1; step <= 30; step++) {
            double want = plainLr.get(step) * (step > at ? 0.5 : 1.0);
            assertEquals("lr of step " + step + " (command at boundary " + at + ")", want, lr.get(step), 1e-15);
        }

        // A copy of the run as a crash would have left it at the last checkpoint before the command.
        Path copy = Files.createTempDirectory(Files.createDirectories(Path.of(System.getProperty("attune.itest.dir"))), "resumed").resolve("run");
        copyTree(runs.resolve(controlled), copy);
        deleteTree(copy.resolve("final"));
        long keep = (at / 5) * 5;
        try (Stream<Path> s = Files.list(copy)) {
            for (Path c : s.filter(c -> c.getFileName().toString().matches("checkpoint-\\d+")).toList()) {
                if (Long.parseLong(c.getFileName().toString().substring("checkpoint-".length())) > keep) {
                    deleteTree(c);
                }
            }
        }
        LauncherIT.Result r = LauncherIT.attuneIn(ServerIT.REPO, "train", "--resume", copy.toString());
        assertEquals(r.err(), 0, r.code());
        assertArrayEquals("the resumed run applied the command again at step " + at + " and ended with the same bits",
                Files.readAllBytes(runs.resolve(controlled).resolve("final/adapter_model.safetensors")),
                Files.readAllBytes(copy.resolve("final/adapter_model.safetensors")));
        assertEquals(lr, lrs(copy));
    }

    List<JsonNode> events(Path run) throws Exception {
        List<JsonNode> out = new ArrayList<>();
        for (String l : Files.readAllLines(run.resolve("events.jsonl"))) {
            out.add(json.readTree(l));
        }
        return out;
    }

    Map<Long, Double> lrs(Path run) throws Exception {
        Map<Long, Double> out = new TreeMap<>();
        for (JsonNode e : events(run)) {
            if (e.path("type").asText().equals("step")) {
                out.put(e.path("step").asLong(), e.path("lr").asDouble());
            }
        }
        return out;
    }

    static void copyTree(Path from, Path to) throws Exception {
        try (Stream<Path> s = Files.walk(from)) {
            for (Path f : s.toList()) {
                Path t = to.resolve(from.relativize(f).toString());
                if (Files.isDirectory(f)) {
                    Files.createDirectories(t);
                } else {
                    Files.copy(f, t);
                }
            }
        }
    }

    /** Deletes a tree, deepest first. */
    static void deleteTree(Path p) throws Exception {
        if (!Files.exists(p)) {
            return;
        }
        try (Stream<Path> s = Files.walk(p)) {
            for (Path f : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(f);
            }
        }
    }
}
