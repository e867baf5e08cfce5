package ai.attune.runtime.fuzz;

import ai.attune.runtime.server.ApiException;
import ai.attune.runtime.server.JobRunner;
import ai.attune.runtime.server.LabServer;
import ai.attune.runtime.server.ServerMetrics;
import ai.attune.runtime.server.ServerToken;
import ai.attune.runtime.server.TrainJobRunner;
import ai.attune.runtime.train.RecipeLoader;
import ai.attune.runtime.train.StepControl;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.vertx.core.Vertx;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * {@code POST /jobs} bodies sent to a real lab server on loopback, one request per round: the
 * server's YAML/JSON parsing and path confinement, then TrainJobRunner's binding against real
 * plugins. A refused body gets 400 (or 413 past the body limit) with a one-line error and leaves
 * the runs directory as it was; 5xx is a crash. Accepted jobs run a no-op, so nothing trains.
 */
class LabServerFuzzTest {
    static final String TOKEN = "b".repeat(64);

    @TempDir
    Path dir;

    private final ObjectMapper json = new ObjectMapper();

    @Test
    void submittedRecipesAreQueuedOrRefusedWithOneLine() throws Exception {
        Path data = Files.createDirectories(dir.resolve("data"));
        Files.writeString(data.resolve("train.jsonl"), "{\"text\": \"Once upon a time\"}\n");
        Files.writeString(data.resolve("eval.jsonl"), "{\"text\": \"there was a girl\"}\n");
        Files.writeString(data.resolve("general.txt"), "The birch canoe slid on the smooth planks.\n");
        Files.createDirectories(data.resolve("model"));
        String text = RecipeFuzzTest.LORA.replace("MODEL", "model").replace("TRAIN", "train.jsonl").replace("EVAL", "eval.jsonl")
                .replace("GENERAL", "general.txt").replace("OUT", "ignored");
        JsonNode seed = new ObjectMapper(new YAMLFactory()).readTree(text);

        TrainJobRunner real = new TrainJobRunner(FuzzPlugins::catalog, new PrintWriter(new StringWriter()));
        JobRunner runner = new JobRunner() {
            @Override
            public void create(Path runDir, ObjectNode recipe) throws Exception {
                real.create(runDir, recipe);
            }

            @Override
            public void run(Path runDir, StepControl control, Consumer<ObjectNode> steps) {
                // nothing trains here: the fuzz is about what a submission is allowed to be
            }
        };
        Vertx vertx = Vertx.vertx();
        LabServer.Config config = new LabServer.Config("127.0.0.1", 0, dir.resolve("runs"), data, List.of(data), 1,
                LabServer.Config.DEFAULT_BODY_LIMIT, null, null);
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
        try (LabServer server = LabServer.start(vertx, config, ServerToken.of(TOKEN), runner, List::of,
                new ServerMetrics(ServerMetrics.newRegistry()));
             FuzzCampaign campaign = new FuzzCampaign("server-jobs", 51, dir, ApiException.class)) {
            URI base = URI.create("http://127.0.0.1:" + server.port());
            // Kept: SnakeYAML's five-line message used to be cut to its first line, which says neither what nor where.
            byte[] bad = "model: model\ntrain:\n  max_ste\n  seed: 1\n".getBytes(StandardCharsets.UTF_8);
            String kept = campaign.check(new FuzzCampaign.Case(List.of(), List.of(""), () -> submit(http, base, bad)));
            assertEquals("the recipe is not valid YAML or JSON: line 4, column 7: mapping values are not allowed here", kept);
            // Kept: a 720 KB body spent 36 s compiling its target_modules; bodies past a recipe's size are refused unparsed.
            byte[] big = ("model: model\n#" + "x".repeat(RecipeLoader.MAX_BYTES) + "\n").getBytes(StandardCharsets.UTF_8);
            String tooBig = campaign.check(new FuzzCampaign.Case(List.of(), List.of(""), () -> submit(http, base, big)));
            assertEquals("the recipe is " + big.length + " bytes, more than the " + RecipeLoader.MAX_BYTES
                    + " a recipe may be; training data belongs in the files it names", tooBig);
            FuzzCampaign.Totals t = campaign.run(FuzzCampaign.rounds(100), (m, round) -> {
                byte[] body = m.document(seed, m.random().nextInt(3) == 0 ? Mutator.Syntax.JSON : Mutator.Syntax.YAML);
                Path input = Files.write(round.resolve("body.yaml"), body);
                return new FuzzCampaign.Case(List.of(input), List.of(""), () -> submit(http, base, body));
            });
            FuzzCampaign.assertBothOutcomes(t, 0.03, 0.3);
        } finally {
            vertx.close().await();
        }
    }

    /** POSTs one body; 201 waits for the job to finish (so it writes nothing during a later round), 400/413 throws their error. */
    private void submit(HttpClient http, URI base, byte[] body) throws Exception {
        HttpResponse<String> r = http.send(request(base.resolve("/jobs")).POST(HttpRequest.BodyPublishers.ofByteArray(body)).build(),
                HttpResponse.BodyHandlers.ofString());
        JsonNode reply = json.readTree(r.body());
        if (r.statusCode() == 201) {
            String id = reply.path("id").asText();
            long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
            while (!json.readTree(http.send(request(base.resolve("/jobs/" + id)).GET().build(), HttpResponse.BodyHandlers.ofString()).body())
                    .path("state").asText().equals("completed")) {
                if (System.nanoTime() > deadline) {
                    throw new AssertionError("job " + id + " never completed");
                }
                Thread.sleep(2);
            }
            return;
        }
        if (r.statusCode() == 400 || r.statusCode() == 413) {
            throw new ApiException(r.statusCode(), reply.path("error").asText());
        }
        throw new AssertionError("HTTP " + r.statusCode() + ": " + r.body());
    }

    private static HttpRequest.Builder request(URI uri) {
        return HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(30)).header("Authorization", "Bearer " + TOKEN);
    }
}
