package ai.attune.runtime.server;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The lab server's HTTP surface with a fake runner: auth, confinement, the job life, persistence, load. */
class LabServerTest {
    @TempDir
    Path tmp;
    Path runs;
    Path data;

    @BeforeEach
    void dirs() throws Exception {
        runs = tmp.resolve("runs");
        data = Files.createDirectories(tmp.resolve("data"));
        Files.createDirectories(data.resolve("model"));
        Files.writeString(data.resolve("d.txt"), "hello\n");
    }

    String recipe(String dataPath, int steps) {
        return "{\"model\": \"model\", \"method\": \"lora\", \"data\": {\"format\": \"text\", \"path\": \"" + dataPath + "\"},"
                + " \"train\": {\"max_steps\": " + steps + ", \"optimizer\": {\"name\": \"adamw\", \"lr\": 0.01}}, \"output\": \"/tmp/elsewhere\"}";
    }

    @Test
    void refusesMissingAndWrongTokensAndDoesNothing() throws Exception {
        try (ServerFixture s = new ServerFixture(runs, data, new FakeRunner(0))) {
            assertEquals(401, s.send("POST", "/jobs", recipe("d.txt", 1), null).statusCode());
            assertEquals(401, s.send("POST", "/jobs", recipe("d.txt", 1), "b".repeat(64)).statusCode());
            HttpResponse<String> r = s.send("GET", "/jobs", null, "wrong");
            assertEquals(401, r.statusCode());
            assertEquals("missing or wrong token", s.read(r).path("error").asText());
            assertEquals(401, s.send("GET", "/metrics", null, null).statusCode());
            assertEquals(0, s.read(s.get("/jobs")).path("jobs").size());
            try (var l = Files.list(runs)) {
                assertEquals(0, l.count(), "no run directory was created");
            }
        }
    }

    @Test
    void refusesRecipePathsOutsideTheRootsNamingTheKey() throws Exception {
        try (ServerFixture s = new ServerFixture(runs, data, new FakeRunner(0))) {
            HttpResponse<String> up = s.post("/jobs", recipe("../../etc/passwd", 1));
            assertEquals(400, up.statusCode());
            assertTrue(s.read(up).path("error").asText().startsWith("recipe key 'data.path': '../../etc/passwd' is outside"), up.body());
            HttpResponse<String> abs = s.post("/jobs", recipe("/etc/passwd", 1).replace("\"model\"", "\"model\""));
            assertEquals(400, abs.statusCode());
            HttpResponse<String> model = s.post("/jobs", recipe("d.txt", 1).replace("\"model\": \"model\"", "\"model\": \"/usr\""));
            assertEquals(400, model.statusCode());
            assertTrue(s.read(model).path("error").asText().contains("'model'"), model.body());
            assertEquals(400, s.post("/jobs", "[1, 2]").statusCode());
            assertEquals(400, s.post("/jobs", "{\"train\": {}}").statusCode(), "the runner's refusal is a 400");
            try (var l = Files.list(runs)) {
                assertEquals(0, l.count(), "refused submissions leave no run directory");
            }
            assertEquals(413, s.post("/jobs", "x".repeat(2 << 20)).statusCode());
        }
    }

    @Test
    void aJobRunsToCompletionWithEventsAndArtifacts() throws Exception {
        try (ServerFixture s = new ServerFixture(runs, data, new FakeRunner(5))) {
            HttpResponse<String> sub = s.post("/jobs", recipe("d.txt", 4));
            assertEquals(201, sub.statusCode(), sub.body());
            String id = s.read(sub).path("id").asText();
            assertTrue(id.matches("job-\\d{8}-\\d{6}-\\d+"), id);
            JsonNode done = s.await(id, "completed");
            assertEquals(4, done.path("step").asLong());
            assertEquals(0.25, done.path("loss").asDouble(), 1e-12);
            // the recipe's output was forced into the run directory
            assertTrue(Files.readString(runs.resolve(id).resolve("recipe.yaml")).contains(runs.resolve(id).toString()));

            JsonNode all = s.read(s.get("/jobs/" + id + "/events"));
            assertEquals(8, all.path("next").asLong(), "a step and a metric event per step");
            assertEquals(8, all.path("events").size());
            JsonNode tail = s.read(s.get("/jobs/" + id + "/events?since=2"));
            assertEquals(6, tail.path("events").size());
            assertEquals(2, tail.path("events").get(0).path("step").asLong());
            assertEquals(400, s.get("/jobs/" + id + "/events?since=-1").statusCode());

            HttpResponse<String> art = s.get("/jobs/" + id + "/artifacts/final/adapter_model.safetensors");
            assertEquals(200, art.statusCode());
            assertEquals("steps=4", art.body());
            assertEquals(404, s.get("/jobs/" + id + "/artifacts/final/none").statusCode());
            // Vert.x removes dot segments before routing, so an encoded escape never reaches the run directory
            HttpResponse<String> up = s.get("/jobs/" + id + "/artifacts/..%2F..%2F..%2Fdata%2Fd.txt");
            assertTrue(up.statusCode() == 400 || up.statusCode() == 404, up.body());
            assertFalse(up.body().contains("hello"), up.body());
            // Vert.x folds the leading "//" of a decoded absolute path, so this asks for <run>/etc/passwd: absent, never /etc/passwd
            HttpResponse<String> abs = s.get("/jobs/" + id + "/artifacts/%2Fetc%2Fpasswd");
            assertTrue(abs.statusCode() == 400 || abs.statusCode() == 404, abs.body());
            assertFalse(abs.body().contains("root:"), abs.body());
            assertEquals(404, s.get("/jobs/nope").statusCode());
            assertEquals(409, s.post("/jobs/" + id + "/pause", null).statusCode());

            String metrics = s.get("/metrics").body();
            assertTrue(metrics.contains("attune_jobs{state=\"completed\"} 1.0"), metrics);
            assertTrue(metrics.contains("attune_steps_total 4.0"), metrics);
            assertTrue(metrics.contains("attune_job_loss 0.25"), metrics);
            assertTrue(metrics.contains("attune_technique_metric{name=\"fake_norm\",source=\"method/fake\"} 8.0"), metrics);
            assertTrue(metrics.contains("jvm_memory_used_bytes"), metrics);
            assertEquals("adamw", s.read(s.get("/plugins")).path("plugins").get(0).path("name").asText());
        }
    }

    @Test
    void pauseResumeCancelAndAFailingPlugin() throws Exception {
        try (ServerFixture s = new ServerFixture(runs, data, new FakeRunner(20))) {
            String id = s.read(s.post("/jobs", recipe("d.txt", 1000))).path("id").asText();
            s.await(id, "running");
            assertEquals("paused", s.read(s.post("/jobs/" + id + "/pause", null)).path("state").asText());
            long at = s.read(s.get("/jobs/" + id)).path("step").asLong();
            Thread.sleep(200);
            assertTrue(s.read(s.get("/jobs/" + id)).path("step").asLong() <= at + 1, "a paused job takes at most the step it was in");
            assertEquals("running", s.read(s.post("/jobs/" + id + "/resume", null)).path("state").asText());
            s.post("/jobs/" + id + "/cancel", null);
            s.await(id, "cancelled");

            String bad = s.read(s.post("/jobs", recipe("d.txt", 3).replace("\"max_steps\"", "\"seed\": 7, \"max_steps\""))).path("id").asText();
            JsonNode failed = s.await(bad, "failed");
            assertTrue(failed.path("reason").asText().startsWith("adamw: boom (in ai.attune.runtime.server.FakeRunner"), failed.toString());
            String after = s.read(s.post("/jobs", recipe("d.txt", 2))).path("id").asText();
            s.await(after, "completed"); // the server outlived the failure
        }
    }

    /**
     * A control command is queued with 202 and recorded at the job's next step boundary; a malformed
     * one is a 400 naming what is wrong, and a job that is not running takes none (409).
     */
    @Test
    void controlCommandsReachTheRunningJobAndBadOnesAreRefused() throws Exception {
        try (ServerFixture s = new ServerFixture(runs, data, new FakeRunner(20))) {
            String id = s.read(s.post("/jobs", recipe("d.txt", 1000))).path("id").asText();
            s.await(id, "running");
            HttpResponse<String> ok = s.post("/jobs/" + id + "/control", "{\"command\": \"scale_lr\", \"factor\": 0.5}");
            assertEquals(202, ok.statusCode(), ok.body());
            assertEquals(0.5, s.read(ok).path("queued").path("factor").asDouble());
            assertEquals(400, s.post("/jobs/" + id + "/control", "{\"command\": \"explode\"}").statusCode());
            HttpResponse<String> neg = s.post("/jobs/" + id + "/control", "{\"command\": \"scale_lr\", \"factor\": -1}");
            assertEquals("scale_lr: factor must be a finite number > 0, not -1", s.read(neg).path("error").asText());
            HttpResponse<String> key = s.post("/jobs/" + id + "/control", "{\"command\": \"cadence\", \"save_steps\": 5}");
            assertTrue(s.read(key).path("error").asText().startsWith("cadence: unknown key 'save_steps'"), key.body());
            assertEquals(400, s.post("/jobs/" + id + "/control", "not json").statusCode());
            assertEquals(404, s.post("/jobs/nope/control", "{\"command\": \"evaluate\"}").statusCode());
            assertEquals("paused", s.read(s.post("/jobs/" + id + "/pause", null)).path("state").asText());
            assertEquals(202, s.post("/jobs/" + id + "/control", "{\"command\": \"cadence\", \"eval_every\": 3}").statusCode(),
                    "a paused job takes commands too");
            long deadline = System.nanoTime() + 30_000_000_000L;
            List<String> controls;
            do {
                controls = new ArrayList<>();
                for (JsonNode e : s.read(s.get("/jobs/" + id + "/events")).path("events")) {
                    if (e.path("type").asText().equals("control")) {
                        controls.add(e.path("command").asText());
                    }
                }
                Thread.sleep(10);
            } while (controls.size() < 2 && System.nanoTime() < deadline);
            assertEquals(List.of("scale_lr", "cadence"), controls, "recorded in order, the second while the job was paused");
            s.post("/jobs/" + id + "/cancel", null);
            s.await(id, "cancelled");
            assertEquals(409, s.post("/jobs/" + id + "/control", "{\"command\": \"evaluate\"}").statusCode());
        }
    }

    /**
     * A job whose method plugin departs saves a checkpoint at its next boundary and waits; it cannot
     * be resumed by hand meanwhile; another plugin's arrival changes nothing; when its own is back it
     * runs on to the end, taking every step once.
     */
    @Test
    void aJobWhoseMethodDepartsCheckpointsWaitsAndRunsOnWhenItIsBack() throws Exception {
        try (ServerFixture s = new ServerFixture(runs, data, new FakeRunner(20))) {
            String id = s.read(s.post("/jobs", recipe("d.txt", 40))).path("id").asText();
            s.await(id, "running");
            assertEquals("lora", s.read(s.get("/jobs/" + id)).path("plugins").path("method").asText());
            s.server.jobs().pluginDeparted("method", "lora");
            JsonNode paused = s.await(id, "paused");
            assertTrue(paused.path("reason").asText().startsWith("method plugin 'lora' went away"), paused.toString());
            long deadline = System.nanoTime() + 30_000_000_000L;
            while (!s.get("/jobs/" + id + "/events").body().contains("\"command\":\"checkpoint\"") && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            assertTrue(s.get("/jobs/" + id + "/events").body().contains("\"command\":\"checkpoint\""), "a checkpoint was asked for");
            HttpResponse<String> early = s.post("/jobs/" + id + "/resume", null);
            assertEquals(409, early.statusCode());
            assertTrue(s.read(early).path("error").asText().contains("waits for method plugin 'lora'"), early.body());
            s.server.jobs().pluginArrived("method", "prompt_tuning");
            s.server.jobs().pluginArrived("optimizer", "lora");
            Thread.sleep(100);
            assertEquals("paused", s.read(s.get("/jobs/" + id)).path("state").asText(), "only the departed plugin lets it go on");
            s.server.jobs().pluginArrived("method", "lora");
            s.await(id, "completed");
            assertEquals(40, Files.readAllLines(runs.resolve(id).resolve("events.jsonl")).stream().filter(l -> l.contains("\"type\":\"step\"")).count());
        }
    }

    @Test
    void aJobThatFailsToLoadSaysItNeverStarted() throws Exception {
        try (ServerFixture s = new ServerFixture(runs, data, new FakeRunner(0))) {
            String id = s.read(s.post("/jobs", recipe("d.txt", 3).replace("\"max_steps\"", "\"seed\": 8, \"max_steps\""))).path("id").asText();
            JsonNode failed = s.await(id, "failed");
            assertTrue(failed.path("reason").asText().startsWith("failed before step 0, nothing was trained: model.safetensors: tensor 'w'"),
                    failed.toString());
            assertEquals(0, failed.path("step").asLong());
            assertFalse(Files.exists(runs.resolve(id).resolve("final")));
        }
    }

    @Test
    void jobsSurviveARestartAndInterruptedOnesResume() throws Exception {
        String done;
        String interrupted;
        try (ServerFixture s = new ServerFixture(runs, data, new FakeRunner(0))) {
            done = s.read(s.post("/jobs", recipe("d.txt", 2))).path("id").asText();
            s.await(done, "completed");
            interrupted = s.read(s.post("/jobs", recipe("d.txt", 5))).path("id").asText();
            s.await(interrupted, "completed");
        }
        // As a kill -9 mid-run leaves it: job.json says running, events stop at step 3.
        Path dir = runs.resolve(interrupted);
        Files.writeString(dir.resolve("job.json"), Files.readString(dir.resolve("job.json")).replace("\"completed\"", "\"running\""));
        List<String> lines = Files.readAllLines(dir.resolve("events.jsonl"));
        Files.write(dir.resolve("events.jsonl"), lines.subList(0, 6)); // steps 1..3, each with its metric event
        Files.delete(dir.resolve("final/adapter_model.safetensors"));

        try (ServerFixture s = new ServerFixture(runs, data, new FakeRunner(0))) {
            JsonNode list = s.read(s.get("/jobs")).path("jobs");
            assertEquals(2, list.size());
            assertEquals(done, list.get(0).path("id").asText());
            assertEquals("completed", list.get(0).path("state").asText());
            assertEquals("interrupted", list.get(1).path("state").asText());
            assertTrue(Files.readString(dir.resolve("job.json")).contains("\"interrupted\""), "written back at once");
            assertEquals(201, s.post("/jobs", recipe("d.txt", 1)).statusCode(), "new ids do not collide with old ones");
            assertEquals(200, s.post("/jobs/" + interrupted + "/resume", null).statusCode());
            JsonNode resumed = s.await(interrupted, "completed");
            assertEquals(5, resumed.path("step").asLong());
            assertEquals(5, Files.readAllLines(dir.resolve("events.jsonl")).stream().filter(l -> l.contains("\"type\":\"step\"")).count(),
                    "steps 4 and 5 were run once more, not 1..5");
        }
    }

    @Test
    void twoHundredQueuedSubmissionsUnderFiftyPollers() throws Exception {
        try (ServerFixture s = new ServerFixture(runs, data, new FakeRunner(0))) {
            ExecutorService pool = Executors.newFixedThreadPool(66);
            AtomicBoolean stop = new AtomicBoolean();
            AtomicInteger polls = new AtomicInteger();
            List<Future<?>> pollers = new ArrayList<>();
            for (int i = 0; i < 50; i++) {
                pollers.add(pool.submit(() -> {
                    while (!stop.get()) {
                        HttpResponse<String> r = s.get("/jobs");
                        assertEquals(200, r.statusCode());
                        polls.incrementAndGet();
                    }
                    return null;
                }));
            }
            List<Future<List<String>>> submitters = new ArrayList<>();
            for (int t = 0; t < 16; t++) {
                int n = t < 8 ? 13 : 12; // 8 * 13 + 8 * 12 = 200
                submitters.add(pool.submit(() -> {
                    List<String> ids = new ArrayList<>();
                    for (int k = 0; k < n; k++) {
                        HttpResponse<String> r = s.post("/jobs", recipe("d.txt", 2));
                        assertEquals(201, r.statusCode(), r.body());
                        ids.add(s.read(r).path("id").asText());
                    }
                    return ids;
                }));
            }
            Set<String> ids = new HashSet<>();
            int count = 0;
            for (Future<List<String>> f : submitters) {
                List<String> got = f.get(120, TimeUnit.SECONDS);
                count += got.size();
                ids.addAll(got);
            }
            assertEquals(200, count);
            assertEquals(200, ids.size(), "no duplicate ids");
            for (String id : ids) {
                s.await(id, "completed");
            }
            stop.set(true);
            for (Future<?> f : pollers) {
                f.get(30, TimeUnit.SECONDS);
            }
            pool.shutdown();
            assertTrue(polls.get() >= 50, "pollers were answered throughout");
            JsonNode list = s.read(s.get("/jobs")).path("jobs");
            assertEquals(200, list.size());
            for (JsonNode j : list) {
                assertEquals("completed", j.path("state").asText());
                assertEquals(2, j.path("step").asLong());
            }
            assertFalse(Files.exists(runs.resolve("missing")));
        }
    }
}
