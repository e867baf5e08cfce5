package ai.attune.runtime.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;

/** {@code attune remote}: a client of a lab server's REST API. */
@Command(name = "remote", description = "Talk to a lab server: submit RECIPE.yaml | list | status JOB | cancel JOB | pause JOB | resume JOB"
        + " | logs [-f] JOB | control JOB (--scale-lr F | --checkpoint | --evaluate | --eval-every N | --save-every N).")
public final class RemoteCommand implements Runnable {
    private static final Set<String> FINAL = Set.of("completed", "failed", "cancelled", "interrupted");

    @Spec
    CommandSpec spec;

    @Option(names = "--url", required = true, description = "The server, e.g. http://127.0.0.1:8080.")
    String url;

    @Option(names = "--token", description = "The server's bearer token.")
    String token;

    @Option(names = "--token-file", paramLabel = "FILE", description = "Read the token from FILE (e.g. <attune.home>/conf/server.token).")
    Path tokenFile;

    @Option(names = {"-f", "--follow"}, description = "logs: keep printing new events until the job ends.")
    boolean follow;

    @Option(names = "--scale-lr", paramLabel = "F", description = "control: multiply every later learning rate by F.")
    Double scaleLr;

    @Option(names = "--checkpoint", description = "control: save a checkpoint at the next step boundary.")
    boolean checkpoint;

    @Option(names = "--evaluate", description = "control: evaluate at the next step boundary.")
    boolean evaluate;

    @Option(names = "--eval-every", paramLabel = "N", description = "control: evaluate every N steps from now on (0: off).")
    Integer evalEvery;

    @Option(names = "--save-every", paramLabel = "N", description = "control: save a checkpoint every N steps from now on (0: off).")
    Integer saveEvery;

    @Parameters(index = "0", paramLabel = "ACTION", description = "submit, list, status, cancel, pause, resume, logs or control.")
    String action;

    @Parameters(index = "1", arity = "0..1", paramLabel = "ARG", description = "RECIPE.yaml for submit, else the job id.")
    String arg;

    private final ObjectMapper json = new ObjectMapper();
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

    @Override
    public void run() {
        String t = token();
        PrintWriter out = spec.commandLine().getOut();
        try {
            switch (action) {
                case "submit" -> {
                    String body;
                    try {
                        body = Files.readString(Path.of(need("RECIPE.yaml")));
                    } catch (NoSuchFileException e) {
                        throw new IllegalArgumentException(arg + ": recipe not found");
                    }
                    out.println(call("POST", "/jobs", body, t).path("id").asText());
                }
                case "list" -> {
                    for (JsonNode j : call("GET", "/jobs", null, t).path("jobs")) {
                        out.printf("%s  %-11s step %d%s%n", j.path("id").asText(), j.path("state").asText(), j.path("step").asLong(),
                                j.hasNonNull("reason") ? "  " + j.path("reason").asText() : "");
                    }
                }
                case "status" -> out.println(call("GET", "/jobs/" + need("JOB"), null, t).toPrettyString());
                case "cancel", "pause", "resume" -> out.println(call("POST", "/jobs/" + need("JOB") + "/" + action, null, t).path("state").asText());
                case "control" -> {
                    String id = need("JOB");
                    for (String body : commands()) {
                        out.println("queued " + call("POST", "/jobs/" + id + "/control", body, t).path("queued"));
                    }
                }
                case "logs" -> logs(need("JOB"), t, out);
                default -> throw new picocli.CommandLine.ParameterException(spec.commandLine(),
                        "unknown action '" + action + "'; use submit, list, status, cancel, pause, resume, logs or control");
            }
            out.flush();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot reach " + url + ": " + (e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage()), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The control commands the options ask for, in the order a user would mean them; at least one. */
    private java.util.List<String> commands() {
        java.util.List<String> out = new java.util.ArrayList<>();
        if (scaleLr != null) {
            out.add(json.createObjectNode().put("command", "scale_lr").put("factor", scaleLr).toString());
        }
        if (evalEvery != null || saveEvery != null) {
            com.fasterxml.jackson.databind.node.ObjectNode c = json.createObjectNode().put("command", "cadence");
            if (evalEvery != null) {
                c.put("eval_every", evalEvery);
            }
            if (saveEvery != null) {
                c.put("save_every", saveEvery);
            }
            out.add(c.toString());
        }
        if (checkpoint) {
            out.add("{\"command\":\"checkpoint\"}");
        }
        if (evaluate) {
            out.add("{\"command\":\"evaluate\"}");
        }
        if (out.isEmpty()) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(),
                    "control needs --scale-lr F, --checkpoint, --evaluate, --eval-every N or --save-every N");
        }
        return out;
    }

    private void logs(String id, String t, PrintWriter out) throws IOException, InterruptedException {
        long since = 0;
        while (true) {
            JsonNode page = call("GET", "/jobs/" + id + "/events?since=" + since, null, t);
            for (JsonNode e : page.path("events")) {
                out.println(e.toString());
            }
            out.flush();
            since = page.path("next").asLong(since);
            if (!follow) {
                return;
            }
            // The state is read after the events, so the last events of a finished job are never skipped.
            if (FINAL.contains(call("GET", "/jobs/" + id, null, t).path("state").asText())) {
                page = call("GET", "/jobs/" + id + "/events?since=" + since, null, t);
                page.path("events").forEach(e -> out.println(e.toString()));
                out.flush();
                return;
            }
            Thread.sleep(500);
        }
    }

    private JsonNode call(String method, String path, String body, String t) throws IOException, InterruptedException {
        HttpRequest req = HttpRequest.newBuilder(URI.create(url.replaceAll("/+$", "") + path)).timeout(Duration.ofSeconds(60))
                .header("Authorization", "Bearer " + t)
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body)).build();
        HttpResponse<String> r = http.send(req, HttpResponse.BodyHandlers.ofString());
        JsonNode n;
        try {
            n = json.readTree(r.body());
        } catch (IOException e) {
            n = json.createObjectNode().put("error", r.body());
        }
        if (r.statusCode() >= 300) {
            throw new IllegalStateException(r.statusCode() + " " + reason(r.statusCode()) + ": " + n.path("error").asText("no details"));
        }
        return n;
    }

    private String token() {
        if (token != null) {
            return token.strip();
        }
        if (tokenFile == null) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "give --token T or --token-file FILE");
        }
        try {
            return Files.readString(tokenFile).strip();
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read the token file " + tokenFile + ": " + e.getMessage());
        }
    }

    private String need(String what) {
        if (arg == null) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), action + " needs " + what);
        }
        return arg;
    }

    private static String reason(int status) {
        return switch (status) {
            case 400 -> "Bad Request";
            case 401 -> "Unauthorized";
            case 404 -> "Not Found";
            case 409 -> "Conflict";
            case 202 -> "Accepted";
            case 413 -> "Payload Too Large";
            default -> status >= 500 ? "Server Error" : "HTTP error";
        };
    }
}
