package ai.attune.runtime.server;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.bridge.PermittedOptions;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import io.vertx.ext.web.handler.sockjs.SockJSBridgeOptions;
import io.vertx.ext.web.handler.sockjs.SockJSHandler;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.function.Supplier;

/**
 * The REST API (mirroring the bus), {@code /metrics} and the SockJS event-bus bridge. Every route
 * sits behind the bearer token, checked before the body is read, so a refused request does nothing.
 */
final class RestApi {
    private final Vertx vertx;
    private final JobManager jobs;
    private final ServerToken token;
    private final Supplier<List<ObjectNode>> plugins;
    private final ServerMetrics metrics;
    private final int bodyLimit;
    private final ObjectMapper json = new ObjectMapper();

    RestApi(Vertx vertx, JobManager jobs, ServerToken token, Supplier<List<ObjectNode>> plugins, ServerMetrics metrics, int bodyLimit) {
        this.vertx = vertx;
        this.jobs = jobs;
        this.token = token;
        this.plugins = plugins;
        this.metrics = metrics;
        this.bodyLimit = bodyLimit;
    }

    Router router() {
        Router r = Router.router(vertx);
        r.route().handler(this::authenticate);
        // The bridge comes before the body handler: a WebSocket upgrade has no body to read, and reading it breaks the upgrade.
        r.route("/eventbus/*").subRouter(SockJSHandler.create(vertx).bridge(bridgeOptions()));
        r.route().handler(BodyHandler.create(false).setBodyLimit(bodyLimit));
        r.post("/jobs").handler(ctx -> blocking(ctx, 201, () -> json.createObjectNode().put("id", jobs.submit(ctx.body().asString()))));
        r.post("/merges").handler(ctx -> blocking(ctx, 201, () -> json.createObjectNode().put("id", jobs.submitMerge(ctx.body().asString()))));
        r.get("/jobs").handler(ctx -> blocking(ctx, 200, () -> {
            ObjectNode out = json.createObjectNode();
            out.putArray("jobs").addAll(jobs.list());
            return out;
        }));
        r.get("/jobs/:id").handler(ctx -> blocking(ctx, 200, () -> jobs.status(ctx.pathParam("id"))));
        r.post("/jobs/:id/cancel").handler(ctx -> blocking(ctx, 200, () -> jobs.cancel(ctx.pathParam("id"))));
        r.post("/jobs/:id/pause").handler(ctx -> blocking(ctx, 200, () -> jobs.pause(ctx.pathParam("id"))));
        r.post("/jobs/:id/resume").handler(ctx -> blocking(ctx, 200, () -> jobs.resume(ctx.pathParam("id"))));
        r.post("/jobs/:id/control").handler(ctx -> blocking(ctx, 202, () -> jobs.control(ctx.pathParam("id"), ctx.body().asString())));
        r.get("/jobs/:id/events").handler(ctx -> blocking(ctx, 200, () -> jobs.events(ctx.pathParam("id"), since(ctx))));
        r.get("/jobs/:id/artifacts/*").handler(this::artifact);
        r.get("/plugins").handler(ctx -> blocking(ctx, 200, () -> {
            ObjectNode out = json.createObjectNode();
            out.putArray("plugins").addAll(plugins.get());
            return out;
        }));
        r.get("/metrics").handler(ctx -> vertx.executeBlocking(metrics::scrape, false).onComplete(ar -> {
            if (ar.succeeded()) {
                ctx.response().putHeader("Content-Type", "text/plain; version=0.0.4; charset=utf-8").end(ar.result());
            } else {
                ctx.fail(ar.cause());
            }
        }));
        r.route().failureHandler(this::failure);
        return r;
    }

    /** Clients may send only to the request and job control addresses, and receive only job events and plugin news. */
    static SockJSBridgeOptions bridgeOptions() {
        SockJSBridgeOptions o = new SockJSBridgeOptions();
        for (String a : JobBus.REQUESTS) {
            o.addInboundPermitted(new PermittedOptions().setAddress(a));
        }
        o.addInboundPermitted(new PermittedOptions().setAddressRegex("attune\\.jobs\\.[^.]+\\.control"));
        o.addOutboundPermitted(new PermittedOptions().setAddressRegex("attune\\.jobs\\.[^.]+\\.events"));
        o.addOutboundPermitted(new PermittedOptions().setAddress(JobBus.PLUGINS));
        return o;
    }

    private void authenticate(RoutingContext ctx) {
        String header = ctx.request().getHeader("Authorization");
        // Browsers cannot set headers on a WebSocket handshake, so the bridge also takes ?access_token=.
        String query = ctx.request().path().startsWith("/eventbus/") ? ctx.request().getParam("access_token") : null;
        if (token.accepts(header) || query != null && token.accepts("Bearer " + query)) {
            ctx.next();
            return;
        }
        ctx.response().setStatusCode(401).putHeader("WWW-Authenticate", "Bearer").putHeader("Content-Type", "application/json")
                .end(new JsonObject().put("error", "missing or wrong token").encode());
    }

    private void artifact(RoutingContext ctx) {
        String rel = ctx.pathParam("*");
        vertx.executeBlocking(() -> jobs.artifact(ctx.pathParam("id"), rel == null ? "" : rel), false).onComplete(ar -> {
            if (ar.succeeded()) {
                Path p = ar.result();
                ctx.response().putHeader("Content-Type", "application/octet-stream").sendFile(p.toString());
            } else {
                ctx.fail(ar.cause());
            }
        });
    }

    private static long since(RoutingContext ctx) {
        String s = ctx.request().getParam("since");
        try {
            long n = s == null ? 0 : Long.parseLong(s);
            if (n < 0) {
                throw new NumberFormatException();
            }
            return n;
        } catch (NumberFormatException e) {
            throw new ApiException(400, "since must be a line number >= 0, not '" + s + "'");
        }
    }

    private void blocking(RoutingContext ctx, int status, Callable<ObjectNode> work) {
        vertx.executeBlocking(work, false).onComplete(ar -> {
            if (ar.succeeded()) {
                ctx.response().setStatusCode(status).putHeader("Content-Type", "application/json").end(ar.result().toString());
            } else {
                ctx.fail(ar.cause());
            }
        });
    }

    private void failure(RoutingContext ctx) {
        Throwable t = ctx.failure();
        int status = t instanceof ApiException a ? a.status() : ctx.statusCode() > 0 ? ctx.statusCode() : 500;
        String msg = t instanceof ApiException ? t.getMessage()
                : status == 413 ? "request body larger than " + bodyLimit + " bytes"
                : t == null ? "HTTP " + status : JobManager.oneLine(t.getMessage());
        if (ctx.response().headWritten()) {
            ctx.response().reset();
            return;
        }
        ctx.response().setStatusCode(status).putHeader("Content-Type", "application/json").end(new JsonObject().put("error", msg).encode());
    }
}
