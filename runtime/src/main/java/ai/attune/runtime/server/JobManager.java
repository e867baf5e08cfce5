package ai.attune.runtime.server;

import ai.attune.runtime.train.ControlCommand;
import ai.attune.runtime.train.RecipeLoader;
import ai.attune.runtime.train.YamlError;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;

/**
 * The job queue and its workers: FIFO, {@code concurrency} jobs at a time, each on its own worker
 * thread for its whole run. Every operation the REST API and the event bus offer lands here; they
 * block on file IO, so callers run them off the event loop.
 */
public final class JobManager implements AutoCloseable {
    /** Told about every state change and step, e.g. to publish them on the bus and count them. */
    public interface Listener {
        void state(String id, ObjectNode view);

        void step(String id, ObjectNode event);
    }

    private final JobStore store;
    private final PathGuard guard;
    private final JobRunner runner;
    private final Listener listener;
    private final ObjectMapper json = new ObjectMapper();
    private final ObjectMapper yaml = new ObjectMapper(new YAMLFactory());
    private final Map<String, Job> jobs = new ConcurrentHashMap<>();
    private final BlockingQueue<Job> queue = new LinkedBlockingQueue<>();
    private final List<Thread> workers = new ArrayList<>();
    private volatile boolean closing;

    JobManager(JobStore store, PathGuard guard, JobRunner runner, int concurrency, Listener listener) throws IOException {
        this.store = store;
        this.guard = guard;
        this.runner = runner;
        this.listener = listener;
        for (Job j : store.load()) {
            jobs.put(j.id, j);
        }
        for (int i = 0; i < Math.max(1, concurrency); i++) {
            Thread t = Thread.ofPlatform().name("attune-job-" + i).daemon(true).unstarted(this::work);
            workers.add(t);
            t.start();
        }
    }

    /** Takes a merge config (mergekit's YAML or JSON) as a job; anything else is refused with 400. */
    public String submitMerge(String body) throws IOException {
        JsonNode tree;
        try {
            tree = yaml.readTree(body == null ? "" : body);
        } catch (JsonProcessingException e) {
            throw new ApiException(400, "the merge config is not valid YAML or JSON: " + oneLine(e.getOriginalMessage()));
        }
        if (!(tree instanceof ObjectNode) || !tree.has("merge_method")) {
            throw new ApiException(400, "a merge config is a mapping with merge_method, base_model and models");
        }
        return submit(body);
    }

    /** Takes a recipe or a merge config (YAML or JSON), confines its paths, creates its run directory and queues it. */
    public String submit(String body) throws IOException {
        int bytes = body == null ? 0 : body.getBytes(StandardCharsets.UTF_8).length;
        if (bytes > RecipeLoader.MAX_BYTES) {
            throw new ApiException(413, "the recipe is " + bytes + " bytes, more than the " + RecipeLoader.MAX_BYTES
                    + " a recipe may be; training data belongs in the files it names");
        }
        JsonNode tree;
        try {
            tree = yaml.readTree(body == null ? "" : body);
        } catch (JsonProcessingException e) {
            throw new ApiException(400, "the recipe is not valid YAML or JSON: " + YamlError.describe(e));
        }
        if (!(tree instanceof ObjectNode recipe)) {
            throw new ApiException(400, "a recipe is a mapping of keys (model, method, data, train, output)");
        }
        Path dir = store.reserve();
        Job job;
        try {
            guard.confine(recipe, dir);
            runner.create(dir, recipe);
            java.util.Map<String, String> plugins = recipe.has("merge_method") ? java.util.Map.of() : Job.pluginsOf(recipe);
            job = new Job(dir.getFileName().toString(), dir, java.time.Instant.now().toString(), plugins, JobState.QUEUED);
            store.save(job);
        } catch (Exception e) {
            ai.attune.api.io.AtomicDirectory.deleteTree(dir);
            if (e instanceof ApiException a) {
                throw a;
            }
            throw new ApiException(400, oneLine(e.getMessage()));
        }
        jobs.put(job.id, job);
        announce(job);
        queue.add(job);
        return job.id;
    }

    public List<ObjectNode> list() {
        return jobs.values().stream().sorted(Comparator.comparing((Job j) -> j.created).thenComparing(j -> j.id))
                .map(j -> j.toJson(json)).toList();
    }

    public ObjectNode status(String id) {
        return job(id).toJson(json);
    }

    /**
     * A data-parallel job's other ranks wait for rank 0 at every step with a timeout and take no
     * commands: pausing it would fail them, and a command applied on rank 0 alone (a new lr) would
     * part the replicas.
     */
    private static void refuseDataParallel(Job j, String what) {
        int ranks;
        try {
            ranks = new ai.attune.runtime.train.RecipeLoader().read(j.runDir.resolve("recipe.yaml"), java.util.List.of())
                    .path("train").path("nproc_per_node").asInt(1);
        } catch (IOException | RuntimeException e) {
            return; // not a training recipe: the other checks answer
        }
        if (ranks > 1) {
            throw new ApiException(409, "job " + j.id + " trains data parallel on " + ranks + " ranks (train.nproc_per_node), which cannot be "
                    + what + " together; stop it and resume it from a checkpoint instead");
        }
    }

    public ObjectNode pause(String id) throws IOException {
        Job j = job(id);
        synchronized (j) {
            if (j.state() != JobState.RUNNING) {
                throw new ApiException(409, "job " + id + " is " + j.state().wire() + "; only a running job can be paused");
            }
            refuseDataParallel(j, "paused");
            j.control().pause();
            j.state(JobState.PAUSED, "paused by request");
        }
        return changed(j);
    }

    /**
     * Queues a {@link ControlCommand} for a running or paused training job's next step boundary,
     * where it is applied and written to events.jsonl; answers the job's view with the command.
     */
    public ObjectNode control(String id, String body) {
        Job j = job(id);
        ControlCommand c;
        try {
            c = ControlCommand.parse(json.readTree(body == null || body.isBlank() ? "null" : body));
        } catch (JsonProcessingException e) {
            throw new ApiException(400, "the control command is not valid JSON: " + oneLine(e.getOriginalMessage()));
        } catch (IllegalArgumentException e) {
            throw new ApiException(400, e.getMessage());
        }
        synchronized (j) {
            if (!j.plugins.containsKey("method")) {
                throw new ApiException(409, "job " + id + " is not a training job; control commands steer training steps");
            }
            if (j.state() != JobState.RUNNING && j.state() != JobState.PAUSED) {
                throw new ApiException(409, "job " + id + " is " + j.state().wire() + "; only a running or paused job takes control commands");
            }
            refuseDataParallel(j, "steered");
            j.control().command(c);
        }
        ObjectNode view = j.toJson(json);
        view.set("queued", c.writeTo(json.createObjectNode()));
        return view;
    }

    /**
     * A plugin went away: each running or paused job that uses it ({@code kind} a label of
     * {@link ai.attune.api.spi.Kind}) saves a checkpoint at its next step boundary and waits for it.
     */
    void pluginDeparted(String kind, String name) {
        String plugin = kind + " plugin '" + name + "'";
        for (Job j : jobs.values()) {
            synchronized (j) {
                if (!j.uses(kind, name) || j.state() != JobState.RUNNING && j.state() != JobState.PAUSED) {
                    continue;
                }
                j.control().hold(plugin);
                j.state(JobState.PAUSED, plugin + " went away; the job saved a checkpoint and continues from it when the plugin is back");
            }
            persist(j, plugin);
        }
    }

    /** A plugin arrived: a job that waited for it, and for nothing else, runs on from its checkpoint with the plugin's code. */
    void pluginArrived(String kind, String name) {
        String plugin = kind + " plugin '" + name + "'";
        for (Job j : jobs.values()) {
            synchronized (j) {
                if (j.state() != JobState.PAUSED || !j.control().returned(plugin)) {
                    continue;
                }
                j.state(JobState.PAUSED, plugin + " is back; restarting from the checkpoint");
            }
            persist(j, plugin);
        }
    }

    private void persist(Job j, String plugin) {
        try {
            changed(j);
        } catch (IOException | RuntimeException e) {
            System.err.println("attune: " + plugin + " changed under job " + j.id + ": " + oneLine(e.getMessage()));
        }
    }

    /** Continues a paused job, or re-queues an interrupted or failed one from its latest checkpoint. */
    public ObjectNode resume(String id) throws IOException {
        Job j = job(id);
        boolean requeue;
        synchronized (j) {
            JobState s = j.state();
            requeue = s == JobState.INTERRUPTED || s == JobState.FAILED;
            if (s == JobState.PAUSED && !j.control().missing().isEmpty()) {
                throw new ApiException(409, "job " + id + " waits for " + String.join(", ", j.control().missing())
                        + " to come back; it continues from its checkpoint then");
            } else if (s == JobState.PAUSED) {
                j.control().resume();
                j.state(JobState.RUNNING, null);
            } else if (requeue) {
                j.newControl();
                j.state(JobState.QUEUED, "resumed from its latest checkpoint");
            } else {
                throw new ApiException(409, "job " + id + " is " + s.wire() + "; only paused, interrupted or failed jobs can be resumed");
            }
        }
        ObjectNode view = changed(j);
        if (requeue) {
            queue.add(j);
        }
        return view;
    }

    public ObjectNode cancel(String id) throws IOException {
        Job j = job(id);
        synchronized (j) {
            JobState s = j.state();
            if (s == JobState.QUEUED || s == JobState.INTERRUPTED) {
                queue.remove(j);
                j.state(JobState.CANCELLED, "cancelled by request");
            } else if (s == JobState.RUNNING || s == JobState.PAUSED) {
                // the job's thread stops at its next step boundary and records the cancellation
                j.control().cancel();
                return j.toJson(json).put("reason", "cancelling at the next step boundary");
            } else {
                throw new ApiException(409, "job " + id + " is already " + s.wire());
            }
        }
        return changed(j);
    }

    /** The events.jsonl lines after line {@code since}, as {@code {next, events}}; a line cut short by a writer is left for later. */
    public ObjectNode events(String id, long since) throws IOException {
        Job j = job(id);
        String text;
        try {
            text = Files.readString(j.runDir.resolve("events.jsonl"), StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            text = "";
        }
        ObjectNode out = json.createObjectNode();
        ArrayNode events = out.putArray("events");
        long line = 0;
        int start = 0;
        for (int nl = text.indexOf('\n'); nl >= 0; start = nl + 1, nl = text.indexOf('\n', start)) {
            if (++line > since) {
                String l = text.substring(start, nl);
                try {
                    events.add(json.readTree(l));
                } catch (JsonProcessingException e) {
                    events.add(json.createObjectNode().put("type", "unreadable").put("line", line));
                }
            }
        }
        out.put("next", Math.max(line, since));
        return out;
    }

    /** A file under the job's run directory, refusing paths that leave it. */
    public Path artifact(String id, String rel) {
        Path p = PathGuard.under(job(id).runDir, rel);
        if (!Files.isRegularFile(p)) {
            throw new ApiException(404, "job " + id + " has no file '" + rel + "'");
        }
        return p;
    }

    /** Jobs by state, for metrics. */
    public long count(JobState s) {
        return jobs.values().stream().filter(j -> j.state() == s).count();
    }

    Iterable<Job> jobs() {
        return jobs.values();
    }

    Path runs() {
        return store.runs();
    }

    /** Records and announces a state change made by the API or the plugin watcher. */
    ObjectNode changed(Job j) throws IOException {
        store.save(j);
        return announce(j);
    }

    private ObjectNode announce(Job j) {
        ObjectNode view = j.toJson(json);
        listener.state(j.id, view);
        return view;
    }

    private Job job(String id) {
        Job j = id == null ? null : jobs.get(id);
        if (j == null) {
            throw new ApiException(404, "no job '" + id + "'");
        }
        return j;
    }

    private void work() {
        while (!closing) {
            Job j;
            try {
                j = queue.take();
            } catch (InterruptedException e) {
                return;
            }
            try {
                execute(j);
            } catch (IOException | RuntimeException e) {
                // persisting a state failed (disk full?): the job.json left behind still says where it was
                System.err.println("attune: job " + j.id + ": " + oneLine(e.getMessage()));
            }
        }
    }

    private void execute(Job j) throws IOException {
        JobControl control;
        synchronized (j) {
            if (j.state() != JobState.QUEUED) {
                return; // cancelled while it waited
            }
            control = j.control();
            j.state(JobState.RUNNING, null);
        }
        changed(j);
        JobState end;
        String why;
        try {
            runner.run(j.runDir, control, e -> {
                if (e.has("loss")) { // step events; metric and merge-progress events leave the status as it is
                    j.step(e.path("step").asLong(), e.path("loss").asDouble());
                }
                try {
                    store.save(j);
                } catch (IOException io) {
                    throw new UncheckedIOException(io);
                }
                listener.step(j.id, e);
            });
            end = JobState.COMPLETED;
            why = null;
        } catch (JobControl.Restart e) {
            synchronized (j) {
                j.newControl();
                j.state(JobState.QUEUED, e.getMessage() + ": continuing from its latest checkpoint");
            }
            changed(j);
            queue.add(j);
            return;
        } catch (CancellationException e) {
            end = closing ? JobState.INTERRUPTED : JobState.CANCELLED;
            why = closing ? "the server stopped; resume it to continue from its latest checkpoint" : "cancelled by request";
        } catch (Exception | LinkageError e) {
            // A plugin that throws fails its job, never the server.
            end = JobState.FAILED;
            why = control.reachedStep() ? failure(e) : notStarted(j) + failure(e);
        }
        j.state(end, why);
        changed(j);
    }

    /**
     * Says that a job failed while loading, so a user knows no step ran and nothing was saved by this
     * attempt (a run writes checkpoints and final/ only after steps): fix the input, then resume it.
     */
    private static String notStarted(Job j) {
        return j.step() == 0 ? "failed before step 0, nothing was trained: " : "failed before training continued: ";
    }

    /** "Class: message" of the deepest cause that says something, naming where it was thrown. */
    static String failure(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t && (t.getMessage() == null || t.getMessage().equals(String.valueOf(t.getCause())))) {
            t = t.getCause();
        }
        String where = t.getStackTrace().length > 0 ? " (in " + t.getStackTrace()[0].getClassName() + ")" : "";
        String msg = t.getMessage() == null ? t.getClass().getSimpleName() : oneLine(t.getMessage());
        return msg + where;
    }

    static String oneLine(String s) {
        return s == null ? "" : s.lines().findFirst().orElse("");
    }


    /** Stops the workers; a job they were running is recorded as interrupted. */
    @Override
    public void close() {
        closing = true;
        for (Thread t : workers) {
            t.interrupt();
        }
        for (Job j : jobs.values()) {
            j.control().cancel();
        }
        for (Thread t : workers) {
            try {
                t.join(10_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }
}
