package ai.attune.itests;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.Test;

import java.net.http.HttpClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

/**
 * The path a user takes with an in-house technique: examples/plugin-template (the Lion optimizer,
 * a standalone Maven project against the published API) is built with the Maven wrapper, its jar
 * dropped into a running lab server's deploy/, and once {@code GET /plugins} lists it a LoRA job
 * trains with it, without a restart: the trained adapter carries Lion's fingerprint (whole lr
 * steps) and the fixed general eval's perplexity comes down.
 */
public class ThirdPartyPluginIT {
    static final Path REPO = ServerIT.REPO;
    static final Path TEMPLATE = REPO.resolve("examples/plugin-template");
    static final double LR = 1.0e-4;
    static final int STEPS = 6;
    private final ObjectMapper json = new ObjectMapper();

    @Test
    public void aTemplateBuiltOutsideTheReactorIsHotDeployedAndTrainsAJob() throws Exception {
        Path jar = buildTemplate();

        Path home = HotSwapIT.privateHome("attune-third-party");
        int port = ServerIT.freePort();
        Process server = HotSwapIT.serve(home, port, REPO);
        try {
            String token = HotSwapIT.awaitToken(home.resolve("conf/server.token"), server);
            HttpClient http = HttpClient.newHttpClient();
            String base = "http://127.0.0.1:" + port;
            HotSwapIT.awaitListening(http, base + "/plugins", token, server);
            assertTrue("lion is not installed before the drop", lion(HotSwapIT.get(http, base + "/plugins", token).body()).isEmpty());

            Path incoming = home.resolve("deploy/.attune-optim-lion.jar.part");
            Files.copy(jar, incoming);
            Files.move(incoming, home.resolve("deploy/attune-optim-lion.jar"), StandardCopyOption.ATOMIC_MOVE);
            List<JsonNode> listed = awaitLion(http, base + "/plugins", token);
            assertEquals("com.example.attune.lion", listed.getFirst().path("bundle").asText());

            String recipe = replaced(replaced(ServerIT.recipe(),
                    "optimizer: {name: adamw, lr: 1.0e-2, weight_decay: 0.0}", "optimizer: {name: lion, lr: " + LR + "}"),
                    // a constant lr, so that every step moves every element by exactly lr or 0
                    "schedule: {name: cosine, warmup_steps: 5}", "schedule: {name: constant}");
            String id = ServerIT.id(HotSwapIT.send(http, base + "/jobs", token, recipe));
            String done = HotSwapIT.awaitState(http, base + "/jobs/" + id, token, "\"state\":\"completed\"", 180);
            assertTrue(done, done.contains("\"step\":" + STEPS));

            Path run = home.resolve("runs").resolve(id);
            List<Double> losses = new ArrayList<>();
            List<Double> ppl = new ArrayList<>();
            for (String line : Files.readAllLines(run.resolve("events.jsonl"))) {
                JsonNode e = json.readTree(line);
                switch (e.path("type").asText()) {
                    case "step" -> {
                        assertEquals(line, LR, e.path("lr").asDouble(), 1e-12);
                        losses.add(e.path("loss").asDouble());
                    }
                    case "general_eval" -> ppl.add(e.path("general_ppl").asDouble());
                    default -> { }
                }
            }
            assertEquals(STEPS, losses.size());
            assertTrue("losses " + losses, losses.stream().allMatch(l -> Double.isFinite(l) && l > 0));
            // The training loss is of a different batch each step; the general eval is one fixed set
            // (Harvard sentences), measured at step 0 and every 2 steps: it must have come down.
            assertEquals("general evals at steps 0, 2, 4, 6: " + ppl, 4, ppl.size());
            assertTrue("general perplexity fell with Lion: " + ppl, ppl.getLast() < ppl.getFirst());

            // LoRA starts B at zero. Lion moves each element by +-lr or not at all per step, so after
            // 6 steps at a constant lr every element of B is k * lr with k an integer, |k| <= 6; an
            // adaptive optimizer such as AdamW would leave fractions of lr from its second step on.
            Map<String, float[]> adapter = MergeLauncherIT.read(run.resolve("final/adapter_model.safetensors"));
            int tensors = 0;
            long moved = 0;
            long elements = 0;
            int maxK = 0;
            for (Map.Entry<String, float[]> t : adapter.entrySet()) {
                if (!t.getKey().contains("lora_B")) {
                    continue;
                }
                tensors++;
                for (float b : t.getValue()) {
                    double k = b / LR;
                    long rounded = Math.round(k);
                    assertEquals(t.getKey() + " holds " + b + ", not a whole number of lr steps", rounded, k, 1e-3);
                    assertTrue(t.getKey() + " moved " + rounded + " steps in " + STEPS, Math.abs(rounded) <= STEPS);
                    moved += rounded != 0 ? 1 : 0;
                    maxK = Math.max(maxK, (int) Math.abs(rounded));
                    elements++;
                }
            }
            assertTrue("the adapter has lora_B tensors: " + adapter.keySet(), tensors > 0);
            assertTrue("lora_B left its zero init: " + moved + " of " + elements + " elements moved", moved > elements / 2);
            System.out.printf("Lion, lr %.0e, %d steps: loss %s; general perplexity %s; lora_B: %d of %d elements moved, at most %d steps%n",
                    LR, STEPS, losses, ppl, moved, elements, maxK);
        } finally {
            server.destroy();
            server.waitFor(30, TimeUnit.SECONDS);
        }
    }

    /**
     * {@code ./mvnw -B -q -f examples/plugin-template/pom.xml package}, as the template's README says,
     * against this build's API: installed by the itests' pom into a repository of its own, put in
     * front of the build's local repository (which supplies Maven's plugins, and is only read).
     */
    static Path buildTemplate() throws Exception {
        deleteTree(TEMPLATE.resolve("target"));
        Path log = Files.createDirectories(Path.of(System.getProperty("attune.itest.dir"))).resolve("plugin-template-build.txt");
        List<String> cmd = new ArrayList<>(List.of(REPO.resolve("mvnw").toString(), "-B", "-q", "-f", "examples/plugin-template/pom.xml", "package",
                "-Dattune.version=" + System.getProperty("attune.version"),
                "-Dmaven.repo.local=" + System.getProperty("attune.template.repo"),
                "-Dmaven.repo.local.tail=" + System.getProperty("attune.maven.repo")));
        if ("offline=true".equals(System.getProperty("attune.maven.offline"))) { // as the build that runs this test
            cmd.add("-o");
        }
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(REPO.toFile()).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
        Process mvn = pb.start();
        if (!mvn.waitFor(300, TimeUnit.SECONDS)) {
            mvn.destroyForcibly();
            throw new AssertionError("the template build did not finish in 300 s; " + log);
        }
        assertEquals("the template build failed:\n" + Files.readString(log), 0, mvn.exitValue());
        Path jar = TEMPLATE.resolve("target/attune-optim-lion-1.0.0-SNAPSHOT.jar");
        assertTrue(jar + " was built", Files.isRegularFile(jar));
        return jar;
    }

    private List<JsonNode> lion(String plugins) throws Exception {
        List<JsonNode> out = new ArrayList<>();
        for (JsonNode p : json.readTree(plugins).path("plugins")) {
            if (p.path("kind").asText().equals("optimizer") && p.path("name").asText().equals("lion")) {
                out.add(p);
            }
        }
        return out;
    }

    private List<JsonNode> awaitLion(HttpClient http, String url, String token) throws Exception {
        long deadline = System.currentTimeMillis() + 60_000;
        String last = "";
        while (System.currentTimeMillis() < deadline) {
            last = HotSwapIT.get(http, url, token).body();
            List<JsonNode> found = lion(last);
            if (!found.isEmpty()) {
                return found;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("GET /plugins did not list optimizer lion within 60 s of the drop: " + last);
    }

    private static String replaced(String text, String from, String to) {
        assertTrue("the recipe has " + from, text.contains(from));
        return text.replace(from, to);
    }

    private static void deleteTree(Path dir) throws Exception {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> all = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) all.sorted(Comparator.reverseOrder())::iterator) {
                Files.delete(p);
            }
        }
        assertFalse(Files.exists(dir));
    }
}
