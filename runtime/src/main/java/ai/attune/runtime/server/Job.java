package ai.attune.runtime.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * One job's reported state; guarded by its own monitor because the job's thread, the API and the
 * plugin watcher all change it. {@link #toJson} is both the API view and the job.json content.
 */
final class Job {
    final String id;
    final Path runDir;
    final String created;
    /** train.optimizer.name of the recipe, so the plugin watcher knows which jobs a departure affects. */
    final String optimizer;
    /** Every plugin the job runs on, as kind label to names ({@code method: lora}; several comma-separated), for the plugin watcher; empty for merges. */
    final Map<String, String> plugins;
    private JobState state;
    private long step;
    private Double loss;
    private String reason;
    private JobControl control = new JobControl();

    Job(String id, Path runDir, String created, Map<String, String> plugins, JobState state) {
        this.id = id;
        this.runDir = runDir;
        this.created = created;
        this.plugins = Map.copyOf(plugins);
        this.optimizer = plugins.get("optimizer");
        this.state = state;
    }

    synchronized JobState state() {
        return state;
    }

    synchronized void state(JobState s, String why) {
        state = s;
        reason = why;
    }

    synchronized void step(long s, double l) {
        step = s;
        loss = l;
    }

    synchronized long step() {
        return step;
    }

    synchronized JobControl control() {
        return control;
    }

    /** A fresh control for a new attempt (a resumed interrupted job must not inherit a cancel). */
    synchronized JobControl newControl() {
        control = new JobControl();
        return control;
    }

    synchronized ObjectNode toJson(ObjectMapper json) {
        ObjectNode n = json.createObjectNode().put("id", id).put("state", state.wire()).put("step", step).put("created", created);
        if (loss != null) {
            n.put("loss", loss);
        }
        n.put("optimizer", optimizer);
        plugins.forEach(n.putObject("plugins")::put);
        if (reason != null) {
            n.put("reason", reason);
        }
        return n;
    }

    /**
     * The plugins a training recipe runs on, by the kind labels of {@link ai.attune.api.spi.Kind}:
     * its method, optimizer, data format, backend (not {@code auto}, chosen when it starts) and
     * its memory strategies (mixed precision in bf16 or fp16, gradient checkpointing), comma-separated.
     */
    static Map<String, String> pluginsOf(JsonNode recipe) {
        Map<String, String> p = new TreeMap<>();
        JsonNode train = recipe.path("train");
        put(p, "method", recipe.path("method"));
        put(p, "optimizer", train.path("optimizer").path("name"));
        put(p, "data-format", recipe.path("data").path("format"));
        String backend = train.path("backend").asText("jvm");
        if (!backend.equals("auto")) {
            p.put("backend", backend);
        }
        List<String> memory = new ArrayList<>();
        String precision = train.path("precision").asText("fp32");
        if (precision.equals("bf16") || precision.equals("fp16")) {
            memory.add("mixed_precision");
        }
        if (train.path("gradient_checkpointing").asBoolean(false)) {
            memory.add("gradient_checkpointing");
        }
        if (!memory.isEmpty()) {
            p.put("memory", String.join(",", memory));
        }
        return p;
    }

    private static void put(Map<String, String> p, String kind, JsonNode name) {
        if (name.isTextual()) {
            p.put(kind, name.asText());
        }
    }

    /** Whether the job runs on the plugin {@code name} of kind {@code kind}. */
    boolean uses(String kind, String name) {
        return List.of(plugins.getOrDefault(kind, "").split(",")).contains(name);
    }

    static Job fromJson(ObjectNode n, Path runDir) {
        Map<String, String> plugins = new TreeMap<>();
        n.path("plugins").fields().forEachRemaining(e -> plugins.put(e.getKey(), e.getValue().asText()));
        if (plugins.isEmpty() && n.hasNonNull("optimizer")) {
            plugins.put("optimizer", n.get("optimizer").asText()); // a job.json written before plugins were recorded
        }
        Job j = new Job(n.path("id").asText(), runDir, n.path("created").asText(), plugins, JobState.ofWire(n.path("state").asText("interrupted")));
        j.step = n.path("step").asLong();
        j.loss = n.hasNonNull("loss") ? n.get("loss").asDouble() : null;
        j.reason = n.hasNonNull("reason") ? n.get("reason").asText() : null;
        return j;
    }
}
