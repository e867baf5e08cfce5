package ai.attune.runtime.server;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.nio.file.Path;

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
    private JobState state;
    private long step;
    private Double loss;
    private String reason;
    private JobControl control = new JobControl();

    Job(String id, Path runDir, String created, String optimizer, JobState state) {
        this.id = id;
        this.runDir = runDir;
        this.created = created;
        this.optimizer = optimizer;
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
        if (reason != null) {
            n.put("reason", reason);
        }
        return n;
    }

    static Job fromJson(ObjectNode n, Path runDir) {
        Job j = new Job(n.path("id").asText(), runDir, n.path("created").asText(), n.path("optimizer").asText(null),
                JobState.ofWire(n.path("state").asText("interrupted")));
        j.step = n.path("step").asLong();
        j.loss = n.hasNonNull("loss") ? n.get("loss").asDouble() : null;
        j.reason = n.hasNonNull("reason") ? n.get("reason").asText() : null;
        return j;
    }
}
