package ai.attune.itests;

import org.junit.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

/**
 * Hot swap under a running job, on a copy of the distribution whose AdamW bundle sits in deploy/:
 * deleting the bundle pauses the job at a step boundary with the reason and leaves the server up;
 * dropping it back continues the job on the new bundle (same config keys) to completion.
 */
public class HotSwapIT {
    @Test
    public void removingAndReturningTheOptimizerPausesThenContinuesTheJob() throws Exception {
        Path home = privateHome("attune-hotswap");
        Path adamw;
        try (Stream<Path> p = Files.list(home.resolve("plugins"))) {
            adamw = p.filter(f -> f.getFileName().toString().startsWith("attune-optim-adamw-")).findFirst().orElseThrow(); // not optim-adamw8bit
        }
        Path deployed = home.resolve("deploy").resolve(adamw.getFileName());
        Path spare = home.resolve(adamw.getFileName() + ".spare");
        Files.copy(adamw, spare);
        Files.move(adamw, deployed);

        int port;
        try (var s = new java.net.ServerSocket(0)) {
            port = s.getLocalPort();
        }
        Path repo = Path.of("..").toAbsolutePath().normalize();
        Process server = serve(home, port, repo);
        try {
            String token = awaitToken(home.resolve("conf/server.token"), server);
            HttpClient http = HttpClient.newHttpClient();
            String base = "http://127.0.0.1:" + port;
            awaitListening(http, base + "/plugins", token, server);
            String recipe = Files.readString(repo.resolve("examples/lora-moby-dick.yaml"))
                    .replace("max_steps: 60", "max_steps: 40").replace("save_every: 20", "save_every: 0").replace("eval_every: 20", "eval_every: 0");
            String id = send(http, base + "/jobs", token, recipe).replaceAll(".*\"id\":\"([^\"]+)\".*", "$1");
            // Remove the plugin once the job is past its first steps: the step under way finishes on the old bundle.
            awaitState(http, base + "/jobs/" + id, token, "\"step\":3", 90);

            Files.delete(deployed);
            String paused = awaitState(http, base + "/jobs/" + id, token, "\"state\":\"paused\"", 60);
            assertTrue(paused, paused.contains("optimizer plugin 'adamw' went away"));
            assertEquals(200, get(http, base + "/plugins", token).statusCode());

            Files.copy(spare, home.resolve("deploy").resolve(".incoming"));
            Files.move(home.resolve("deploy").resolve(".incoming"), deployed, StandardCopyOption.ATOMIC_MOVE);
            String done = awaitState(http, base + "/jobs/" + id, token, "\"state\":\"completed\"", 120);
            assertTrue(done, done.contains("\"step\":40"));
        } finally {
            server.destroyForcibly();
            server.waitFor(20, TimeUnit.SECONDS);
        }
    }

    /**
     * A home of its own for one server: the distribution's bin, conf, plugins and deploy copied (so
     * what a test drops or removes there touches no other test), lib linked.
     */
    static Path privateHome(String prefix) throws Exception {
        Path dist = Path.of(System.getProperty("attune.distribution")).toAbsolutePath();
        Path home = Files.createTempDirectory(prefix);
        for (String d : new String[] {"bin", "conf", "plugins", "deploy"}) {
            Files.createDirectories(home.resolve(d));
            try (Stream<Path> files = Files.list(dist.resolve(d))) {
                for (Path f : (Iterable<Path>) files::iterator) {
                    Files.copy(f, home.resolve(d).resolve(f.getFileName()), StandardCopyOption.COPY_ATTRIBUTES);
                }
            }
        }
        Files.createSymbolicLink(home.resolve("lib"), dist.resolve("lib"));
        return home;
    }

    /** {@code attune serve} from {@code home}, run in the repository (the recipes' paths are relative to it), its output in home. */
    static Process serve(Path home, int port, Path repo) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(home.resolve("bin/attune").toString(), "serve", "--port", Integer.toString(port),
                "--runs", home.resolve("runs").toString(), "--data-root", repo.getParent().toString())
                .directory(repo.toFile()).redirectOutput(home.resolve("out.txt").toFile()).redirectError(home.resolve("err.txt").toFile());
        pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
        return pb.start();
    }

    static String awaitToken(Path file, Process server) throws Exception {
        long deadline = System.currentTimeMillis() + 60_000;
        while (System.currentTimeMillis() < deadline && server.isAlive()) {
            if (Files.exists(file) && !Files.readString(file).isBlank()) {
                return Files.readString(file).trim();
            }
            Thread.sleep(50);
        }
        throw new AssertionError("the server did not start");
    }

    static void awaitListening(HttpClient http, String url, String token, Process server) throws Exception {
        long deadline = System.currentTimeMillis() + 60_000;
        while (System.currentTimeMillis() < deadline && server.isAlive()) {
            try {
                if (get(http, url, token).statusCode() == 200) {
                    return;
                }
            } catch (java.io.IOException notYet) {
                // the port opens after the runtime has booted
            }
            Thread.sleep(100);
        }
        throw new AssertionError("the server did not answer on " + url);
    }

    static HttpResponse<String> get(HttpClient http, String url, String token) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(url)).header("Authorization", "Bearer " + token).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    /** Submits a job and returns the answer, accepted (201) or not. */
    static HttpResponse<String> post(HttpClient http, String url, String token, String body) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(url)).header("Authorization", "Bearer " + token)
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
    }

    static String send(HttpClient http, String url, String token, String body) throws Exception {
        HttpResponse<String> r = post(http, url, token, body);
        assertEquals(r.body(), 201, r.statusCode());
        return r.body();
    }

    static String awaitState(HttpClient http, String url, String token, String want, int seconds) throws Exception {
        long deadline = System.currentTimeMillis() + seconds * 1000L;
        String last = "";
        while (System.currentTimeMillis() < deadline) {
            HttpResponse<String> r = get(http, url, token);
            last = r.body();
            if (last.contains(want)) {
                return last;
            }
            if (last.contains("\"state\":\"failed\"")) {
                throw new AssertionError("the job failed: " + last);
            }
            Thread.sleep(100);
        }
        throw new AssertionError("no " + want + " within " + seconds + " s; last status " + last);
    }
}
