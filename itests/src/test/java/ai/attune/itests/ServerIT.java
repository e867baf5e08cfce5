package ai.attune.itests;

import org.junit.Test;

import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

/**
 * {@code attune serve} as a process on loopback: the shipped LoRA recipe submitted over REST and
 * its adapter downloaded; then the server killed with SIGKILL mid-job, restarted, the job found
 * interrupted and resumed to completion. A job whose model is truncated fails before step 0, says
 * so, leaves only its recipe, and completes when resumed once the model is fixed.
 */
public class ServerIT {
    static final Path REPO = TrainLauncherIT.RECIPE.getParent().getParent();
    final HttpClient http = HttpClient.newHttpClient();

    static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    /** The last started server's standard error, for a failure's message. */
    Path serverLog;

    Process serve(int port, Path runs, Path token) throws Exception {
        Path logs = Files.createDirectories(Path.of(System.getProperty("attune.itest.dir"), "logs"));
        serverLog = Files.createTempFile(logs, "serve-err", ".txt");
        return LauncherIT.start(REPO, Files.createTempFile(logs, "serve-out", ".txt"), serverLog, "serve", "--port", String.valueOf(port),
                "--runs", runs.toString(), "--data-root", REPO.getParent().toString(), "--token-file", token.toString());
    }

    /** The job's status and the server's log, for an assertion that a job completed. */
    String statusAndLog(int port, String token, String id) throws Exception {
        return call(port, "GET", "/jobs/" + id, null, token).body() + "\nserver log:\n" + Files.readString(serverLog);
    }

    HttpResponse<String> call(int port, String method, String path, String body, String token) throws Exception {
        HttpRequest req = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).timeout(Duration.ofSeconds(30))
                .header("Authorization", "Bearer " + token)
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body)).build();
        return http.send(req, HttpResponse.BodyHandlers.ofString());
    }

    /** Waits until the server answers (it prints nothing we could wait on through the log file reliably). */
    void awaitUp(int port, Path token, Process p) throws Exception {
        long deadline = System.currentTimeMillis() + 120_000;
        while (System.currentTimeMillis() < deadline && p.isAlive()) {
            try {
                if (Files.exists(token) && call(port, "GET", "/jobs", null, Files.readString(token).strip()).statusCode() == 200) {
                    return;
                }
            } catch (java.io.IOException notYet) {
                // not listening yet
            }
            Thread.sleep(100);
        }
        throw new AssertionError("the server did not come up on port " + port);
    }

    String awaitState(int port, String token, String id, String... states) throws Exception {
        long deadline = System.currentTimeMillis() + 240_000;
        String body = "";
        while (System.currentTimeMillis() < deadline) {
            body = call(port, "GET", "/jobs/" + id, null, token).body();
            for (String s : states) {
                if (body.contains("\"state\":\"" + s + "\"")) {
                    return s;
                }
            }
            Thread.sleep(100);
        }
        throw new AssertionError("job " + id + " never reached " + String.join("|", states) + ": " + body);
    }

    static String recipe() throws Exception {
        // the server accepts YAML as well as JSON; overrides as `attune train --set` would apply them
        return Files.readString(TrainLauncherIT.RECIPE).replace("max_steps: 60", "max_steps: 6").replace("save_every: 20", "save_every: 2")
                .replace("eval_every: 20", "eval_every: 2").replace("micro_batch_size: 8", "micro_batch_size: 4")
                .replace("gradient_accumulation_steps: 2", "gradient_accumulation_steps: 1");
    }

    static String id(String body) {
        Matcher m = Pattern.compile("\"id\":\"([^\"]+)\"").matcher(body);
        assertTrue(body, m.find());
        return m.group(1);
    }

    @Test
    public void submitDownloadKillRestartResume() throws Exception {
        Path base = Files.createTempDirectory("attune-serve");
        Path runs = base.resolve("runs");
        Path tokenFile = base.resolve("conf/server.token");
        int port = freePort();
        Process server = serve(port, runs, tokenFile);
        try {
            awaitUp(port, tokenFile, server);
            assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(tokenFile)));
            String token = Files.readString(tokenFile).strip();
            assertEquals(401, call(port, "GET", "/jobs", null, "wrong").statusCode());

            HttpResponse<String> sub = call(port, "POST", "/jobs", recipe(), token);
            assertEquals(sub.body(), 201, sub.statusCode());
            String first = id(sub.body());
            assertEquals("completed", awaitState(port, token, first, "completed", "failed"));
            String events = call(port, "GET", "/jobs/" + first + "/events?since=0", null, token).body();
            assertTrue(events, events.contains("\"source\":\"method/lora\"") && events.contains("\"ba_norm.model.layers.0.self_attn.q_proj\""));
            HttpResponse<byte[]> adapter = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/jobs/" + first
                    + "/artifacts/final/adapter_model.safetensors")).header("Authorization", "Bearer " + token).build(), HttpResponse.BodyHandlers.ofByteArray());
            assertEquals(200, adapter.statusCode());
            assertTrue(java.util.Arrays.equals(Files.readAllBytes(runs.resolve(first).resolve("final/adapter_model.safetensors")), adapter.body()));

            String second = id(call(port, "POST", "/jobs", recipe(), token).body());
            Path checkpoint = runs.resolve(second).resolve("checkpoint-2/trainer_state.json");
            long deadline = System.currentTimeMillis() + 120_000;
            while (!Files.exists(checkpoint) && System.currentTimeMillis() < deadline) {
                Thread.sleep(20);
            }
            assertTrue("checkpoint-2 appeared", Files.exists(checkpoint));
        } finally {
            server.destroyForcibly(); // SIGKILL: no shutdown hook runs
            server.waitFor(30, TimeUnit.SECONDS);
        }

        Process again = serve(port, runs, tokenFile);
        try {
            awaitUp(port, tokenFile, again);
            String token = Files.readString(tokenFile).strip();
            String list = call(port, "GET", "/jobs", null, token).body();
            String second = list.substring(list.lastIndexOf("\"id\":\"") + 6).split("\"")[0];
            // killed mid-run it is interrupted; only a run that had already finished comes back completed
            if (awaitState(port, token, second, "interrupted", "completed").equals("interrupted")) {
                assertEquals(200, call(port, "POST", "/jobs/" + second + "/resume", null, token).statusCode());
            }
            assertEquals("completed", awaitState(port, token, second, "completed", "failed"));
            long steps = Files.readAllLines(runs.resolve(second).resolve("events.jsonl")).stream().filter(l -> l.contains("\"type\":\"step\"")).count();
            assertEquals(6, steps);
        } finally {
            again.destroy();
            again.waitFor(30, TimeUnit.SECONDS);
        }
    }

    @Test
    public void aJobWhoseModelIsTruncatedFailsBeforeStep0AndResumesOnceFixed() throws Exception {
        Path base = Files.createTempDirectory("attune-serve");
        Path runs = base.resolve("runs");
        Path tokenFile = base.resolve("conf/server.token");
        // inside the server's data root, which a temp directory is not
        Path model = FailedStartIT.truncatedStories(Files.createTempDirectory(
                Files.createDirectories(Path.of(System.getProperty("attune.itest.dir"))), "models"));
        int port = freePort();
        Process server = serve(port, runs, tokenFile);
        try {
            awaitUp(port, tokenFile, server);
            String token = Files.readString(tokenFile).strip();
            String recipe = recipe().replace("model: ../shared/models/stories260K", "model: " + model);
            HttpResponse<String> sub = call(port, "POST", "/jobs", recipe, token);
            assertEquals(sub.body(), 201, sub.statusCode());
            String id = id(sub.body());
            assertEquals("failed", awaitState(port, token, id, "failed", "completed"));
            String status = call(port, "GET", "/jobs/" + id, null, token).body();
            assertTrue(status, status.contains("\"reason\":\"failed before step 0, nothing was trained: model.safetensors: tensor 'model.embed_tokens.weight'"));
            Path dir = runs.resolve(id);
            try (var files = Files.list(dir)) {
                assertEquals(java.util.Set.of("job.json", "recipe.yaml"), files.map(f -> f.getFileName().toString()).collect(java.util.stream.Collectors.toSet()));
            }

            Files.copy(FailedStartIT.STORIES.resolve("model.safetensors"), model.resolve("model.safetensors"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            assertEquals(200, call(port, "POST", "/jobs/" + id + "/resume", null, token).statusCode());
            assertEquals("completed", awaitState(port, token, id, "completed", "failed"));
            assertTrue(Files.isRegularFile(dir.resolve("final/adapter_model.safetensors")));
        } finally {
            server.destroy();
            server.waitFor(30, TimeUnit.SECONDS);
        }
    }

    /**
     * {@code train.nproc_per_node: 2} on the server: the server runs rank 0 and starts rank 1 as a
     * process; the job ends with the adapter of one process accumulating both ranks' micro-batches
     * (dropout on), and refuses a pause it could not apply to both ranks.
     */
    @Test
    public void aDataParallelJobTrainsAsOneProcessAccumulating() throws Exception {
        Path base = Files.createTempDirectory("attune-serve-dp");
        Path runs = base.resolve("runs");
        Path tokenFile = base.resolve("conf/server.token");
        Path single = base.resolve("single");
        LauncherIT.Result one = LauncherIT.attuneIn(REPO, "train", TrainLauncherIT.RECIPE.toString(), "--set", "train.max_steps=6",
                "--set", "train.save_every=2", "--set", "train.eval_every=2", "--set", "train.micro_batch_size=4",
                "--set", "train.gradient_accumulation_steps=2", "--set", "output=" + single);
        assertEquals(one.err(), 0, one.code());
        int port = freePort();
        Process server = serve(port, runs, tokenFile);
        try {
            awaitUp(port, tokenFile, server);
            String token = Files.readString(tokenFile).strip();
            HttpResponse<String> sub = call(port, "POST", "/jobs", recipe().replace("train:\n", "train:\n  nproc_per_node: 2\n"), token);
            assertEquals(sub.body(), 201, sub.statusCode());
            String id = id(sub.body());
            if (awaitState(port, token, id, "running", "completed", "failed").equals("running")) {
                HttpResponse<String> pause = call(port, "POST", "/jobs/" + id + "/pause", null, token);
                assertEquals(pause.body(), 409, pause.statusCode());
            }
            String end = awaitState(port, token, id, "completed", "failed");
            assertEquals(statusAndLog(port, token, id), "completed", end);
            float worst = 0;
            try (var a = ai.attune.api.io.SafetensorsFile.open(single.resolve("final/adapter_model.safetensors"));
                 var b = ai.attune.api.io.SafetensorsFile.open(runs.resolve(id).resolve("final/adapter_model.safetensors"))) {
                assertEquals(a.names(), b.names());
                for (String n : a.names()) {
                    float[] x = a.data(n).toArray(java.lang.foreign.ValueLayout.JAVA_FLOAT);
                    float[] y = b.data(n).toArray(java.lang.foreign.ValueLayout.JAVA_FLOAT);
                    for (int i = 0; i < x.length; i++) {
                        worst = Math.max(worst, Math.abs(x[i] - y[i]));
                    }
                }
            }
            assertTrue("server job on 2 ranks vs one process accumulating 2: " + worst, worst <= 1e-5);
        } finally {
            server.destroy();
            server.waitFor(30, TimeUnit.SECONDS);
        }
    }

    @Test
    public void aMergeConfigRunsAsAJobAndItsModelsStayUnderTheDataRoot() throws Exception {
        Path base = Files.createTempDirectory("attune-serve");
        Path runs = base.resolve("runs");
        Path tokenFile = base.resolve("conf/server.token");
        int port = freePort();
        Process server = serve(port, runs, tokenFile);
        try {
            awaitUp(port, tokenFile, server);
            String token = Files.readString(tokenFile).strip();
            String config = """
                    merge_method: linear
                    models:
                      - {model: ../shared/models/stories260K, parameters: {weight: 0.25}}
                      - {model: ../shared/models/stories260K, parameters: {weight: 0.75}}
                    dtype: float32
                    """;
            HttpResponse<String> sub = call(port, "POST", "/merges", config, token);
            assertEquals(sub.body(), 201, sub.statusCode());
            String id = id(sub.body());
            assertEquals("completed", awaitState(port, token, id, "completed", "failed"));
            HttpResponse<byte[]> merged = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/jobs/" + id
                    + "/artifacts/merged/model.safetensors")).header("Authorization", "Bearer " + token).build(), HttpResponse.BodyHandlers.ofByteArray());
            assertEquals(200, merged.statusCode());
            Path file = base.resolve("merged.safetensors");
            Files.write(file, merged.body());
            var got = MergeLauncherIT.read(file);
            var want = MergeLauncherIT.read(FailedStartIT.STORIES.resolve("model.safetensors"));
            assertEquals(want.keySet(), got.keySet());
            for (String k : want.keySet()) {
                for (int i = 0; i < want.get(k).length; i++) {
                    assertEquals(k, want.get(k)[i], got.get(k)[i], 1e-6); // (0.25 x + 0.75 x) / 1
                }
            }
            assertTrue(Files.readString(runs.resolve(id).resolve("events.jsonl")).contains("\"type\":\"merge\""));

            HttpResponse<String> outside = call(port, "POST", "/merges", config.replace("../shared/models/stories260K", "/etc"), token);
            assertEquals(outside.body(), 400, outside.statusCode());
            assertTrue(outside.body(), outside.body().contains("outside the allowed data roots"));
            assertEquals(400, call(port, "POST", "/merges", recipe(), token).statusCode());
        } finally {
            server.destroy();
            server.waitFor(30, TimeUnit.SECONDS);
        }
    }
}
