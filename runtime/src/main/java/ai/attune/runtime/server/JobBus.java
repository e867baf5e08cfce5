package ai.attune.runtime.server;

import ai.attune.runtime.train.ControlCommand;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * The control plane on the event bus: request/reply addresses mirroring the REST API. A failed
 * request is answered with {@code fail(status, reason)}, the same status REST would give.
 */
final class JobBus {
    static final String SUBMIT = "attune.jobs.submit";
    static final String CANCEL = "attune.jobs.cancel";
    static final String PAUSE = "attune.jobs.pause";
    static final String RESUME = "attune.jobs.resume";
    static final String STATUS = "attune.jobs.status";
    static final String LIST = "attune.jobs.list";
    static final String PLUGINS = "attune.plugins";
    static final List<String> REQUESTS = List.of(SUBMIT, CANCEL, PAUSE, RESUME, STATUS, LIST);

    private final Vertx vertx;
    private final JobManager jobs;
    private final List<MessageConsumer<?>> consumers = new ArrayList<>();
    private final java.util.Set<String> watched = java.util.concurrent.ConcurrentHashMap.newKeySet();

    JobBus(Vertx vertx, JobManager jobs) {
        this.vertx = vertx;
        this.jobs = jobs;
        // submit takes the recipe text (YAML or JSON) or {"recipe": text}; the others take {"id": ...} or the bare id
        on(SUBMIT, m -> new JsonObject().put("id", jobs.submit(m.body() instanceof JsonObject o ? o.getString("recipe") : String.valueOf(m.body()))));
        on(CANCEL, m -> new JsonObject(jobs.cancel(id(m)).toString()));
        on(PAUSE, m -> new JsonObject(jobs.pause(id(m)).toString()));
        on(RESUME, m -> new JsonObject(jobs.resume(id(m)).toString()));
        on(STATUS, m -> new JsonObject(jobs.status(id(m)).toString()));
        on(LIST, m -> new JsonObject().put("jobs", new JsonArray(jobs.list().toString())));
        for (Job j : jobs.jobs()) {
            watch(j.id);
        }
    }

    /** Opens the job's control address ({@link ControlCommand}s as JSON objects); once per job. */
    void watch(String id) {
        if (watched.add(id)) {
            on(control(id), m -> new JsonObject(jobs.control(id, m.body() == null ? null : m.body().toString()).toString()));
        }
    }

    /** The address a job's events are published on. */
    static String events(String id) {
        return "attune.jobs." + id + ".events";
    }

    /** The address a job takes control commands on. */
    static String control(String id) {
        return "attune.jobs." + id + ".control";
    }

    private interface Op {
        JsonObject apply(Message<Object> m) throws Exception;
    }

    private void on(String address, Op op) {
        consumers.add(vertx.eventBus().consumer(address, (Message<Object> m) -> {
            Callable<JsonObject> work = () -> op.apply(m);
            Future<JsonObject> f = vertx.executeBlocking(work, false);
            f.onComplete(ar -> {
                if (ar.succeeded()) {
                    m.reply(ar.result());
                } else if (ar.cause() instanceof ApiException a) {
                    m.fail(a.status(), a.getMessage());
                } else {
                    m.fail(500, JobManager.oneLine(ar.cause().getMessage()));
                }
            });
        }));
    }

    private static String id(Message<Object> m) {
        return m.body() instanceof JsonObject o ? o.getString("id") : String.valueOf(m.body());
    }

    void close() {
        consumers.forEach(MessageConsumer::unregister);
    }
}
