package ai.attune.itests;

import org.junit.Test;

import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

/**
 * A data format is a plugin like any technique: on a lab server whose instruction-data bundle
 * (prompt_completion, alpaca) sits in deploy/, deleting the jar makes a prompt_completion recipe
 * fail at submission in one line naming the format and the formats still installed; dropping the
 * jar back makes the same recipe train. No runtime file names the format (TechniqueFoldersIT).
 */
public class DataFormatSwapIT {
    static final String BUNDLE = "attune-data-instruct";

    @Test
    public void removingTheFormatsBundleRefusesItsRecipesAndReturningItTrainsThem() throws Exception {
        Path home = HotSwapIT.privateHome("attune-data-swap");
        Path jar;
        try (Stream<Path> p = Files.list(home.resolve("plugins"))) {
            jar = p.filter(f -> f.getFileName().toString().startsWith(BUNDLE)).findFirst().orElseThrow();
        }
        Path deployed = home.resolve("deploy").resolve(jar.getFileName());
        Path spare = home.resolve(jar.getFileName() + ".spare");
        Files.copy(jar, spare);
        Files.move(jar, deployed);

        Path repo = ServerIT.REPO;
        // Under the repository, so inside the server's data root.
        Path data = Files.createDirectories(Path.of(System.getProperty("attune.itest.dir"), "data-swap")).toAbsolutePath().resolve("qa.jsonl");
        Files.writeString(data, """
                {"prompt": "Once upon a time,", "completion": " there was a little girl named Lily."}
                {"prompt": "The whale", "completion": " swam in the deep sea."}
                {"prompt": "Call me", "completion": " Ishmael."}
                """);
        String recipe = """
                model: ../shared/models/stories260K
                method: lora
                lora: {r: 4, lora_alpha: 8, target_modules: [q_proj, v_proj]}
                data: {format: prompt_completion, path: %s, max_seq_len: 32, truncate: true}
                train:
                  micro_batch_size: 2
                  max_steps: 2
                  optimizer: {name: adamw, lr: 1.0e-3}
                output: runs/data-swap
                """.formatted(data);

        int port = ServerIT.freePort();
        Process server = HotSwapIT.serve(home, port, repo);
        try {
            String token = HotSwapIT.awaitToken(home.resolve("conf/server.token"), server);
            HttpClient http = HttpClient.newHttpClient();
            String base = "http://127.0.0.1:" + port;
            HotSwapIT.awaitListening(http, base + "/plugins", token, server);
            awaitListed(http, base, token, true);

            Files.delete(deployed);
            awaitListed(http, base, token, false);
            HttpResponse<String> refused = HotSwapIT.post(http, base + "/jobs", token, recipe);
            assertEquals(refused.body(), 400, refused.statusCode());
            assertEquals("{\"error\":\"recipe.yaml: data.format 'prompt_completion' is not installed; installed: [chat, text, tokens]\"}",
                    refused.body());

            Files.copy(spare, home.resolve("deploy").resolve(".incoming"));
            Files.move(home.resolve("deploy").resolve(".incoming"), deployed, StandardCopyOption.ATOMIC_MOVE);
            awaitListed(http, base, token, true);
            String id = ServerIT.id(HotSwapIT.send(http, base + "/jobs", token, recipe));
            String done = HotSwapIT.awaitState(http, base + "/jobs/" + id, token, "\"state\":\"completed\"", 120);
            assertTrue(done, done.contains("\"step\":2"));
            String log = Files.readString(home.resolve("err.txt"));
            assertTrue(log, log.contains("data: qa.jsonl: read 3 rows from qa.jsonl (format prompt_completion)"));
        } finally {
            server.destroyForcibly();
            server.waitFor(20, TimeUnit.SECONDS);
        }
    }

    /** Waits until {@code GET /plugins} lists prompt_completion, or no longer does. */
    private static void awaitListed(HttpClient http, String base, String token, boolean listed) throws Exception {
        long deadline = System.currentTimeMillis() + 30_000;
        String body = "";
        while (System.currentTimeMillis() < deadline) {
            body = HotSwapIT.get(http, base + "/plugins", token).body();
            if (body.contains("\"prompt_completion\"") == listed) {
                return;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("prompt_completion " + (listed ? "never appeared in" : "never left") + " GET /plugins: " + body);
    }
}
