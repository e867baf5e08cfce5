package ai.attune.runtime.server;

import ai.attune.api.spi.Kind;
import ai.attune.api.spi.Optimizer;
import ai.attune.runtime.host.PluginCatalog;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import org.osgi.framework.BundleContext;
import org.osgi.framework.ServiceEvent;
import org.osgi.framework.ServiceListener;
import org.osgi.framework.ServiceReference;

import java.io.IOException;
import java.lang.reflect.RecordComponent;
import java.util.Arrays;
import java.util.List;

/**
 * Announces plugin arrivals and departures on {@code attune.plugins} and keeps running jobs safe
 * from them. A job whose optimizer goes away pauses at its next step boundary; when one of the
 * same name returns with a compatible config record it continues on it, otherwise it stays
 * paused. A job whose method, data format, backend or memory strategy goes away saves a
 * checkpoint at its next step boundary and waits; when the plugin is back (the same bundle, or
 * an update of it) the job runs on from that checkpoint with the plugin's new code.
 */
public final class PluginWatcher implements ServiceListener, AutoCloseable {
    private final BundleContext ctx;
    private final Vertx vertx;
    private final JobManager jobs;

    public PluginWatcher(BundleContext ctx, Vertx vertx, JobManager jobs) {
        this.ctx = ctx;
        this.vertx = vertx;
        this.jobs = jobs;
        ctx.addServiceListener(this);
    }

    @Override
    public void serviceChanged(ServiceEvent event) {
        ServiceReference<?> ref = event.getServiceReference();
        for (Kind kind : Kind.values()) {
            // a technique with aliases comes and goes under each of its names
            for (String name : PluginCatalog.names(ref.getProperty(kind.property()))) {
                String what = switch (event.getType()) {
                    case ServiceEvent.REGISTERED -> "arrived";
                    case ServiceEvent.UNREGISTERING -> "departing";
                    default -> "modified";
                };
                vertx.eventBus().publish(JobBus.PLUGINS, new JsonObject().put("event", what).put("kind", kind.name().toLowerCase())
                        .put("name", name).put("bundle", ref.getBundle().getSymbolicName())
                        .put("version", ref.getBundle().getVersion().toString()));
                if (kind == Kind.OPTIMIZER) {
                    optimizerChanged(name, event.getType(), ref);
                } else if (event.getType() == ServiceEvent.UNREGISTERING) {
                    jobs.pluginDeparted(kind.label(), name);
                } else if (event.getType() == ServiceEvent.REGISTERED) {
                    jobs.pluginArrived(kind.label(), name);
                }
            }
        }
    }

    @SuppressWarnings("unchecked")
    private void optimizerChanged(String name, int type, ServiceReference<?> ref) {
        for (Job j : jobs.jobs()) {
            if (!name.equals(j.optimizer)) {
                continue;
            }
            try {
                if (type == ServiceEvent.UNREGISTERING && j.state() == JobState.RUNNING) {
                    synchronized (j) {
                        j.control().pause(); // the current step finishes with the old plugin, then the job waits
                        j.state(JobState.PAUSED, "optimizer plugin '" + name + "' went away");
                    }
                    jobs.changed(j);
                } else if (type == ServiceEvent.REGISTERED && j.state() == JobState.PAUSED && j.control().currentOptimizer() != null) {
                    Optimizer<Object> next = (Optimizer<Object>) ctx.getService(ref);
                    String why = incompatibility(j.control().currentOptimizer().configType(), next.configType());
                    if (why == null) {
                        synchronized (j) {
                            j.control().swapOptimizer(next);
                            j.state(JobState.RUNNING, null);
                        }
                    } else {
                        j.state(JobState.PAUSED, "optimizer plugin '" + name + "' came back with an incompatible config: " + why);
                    }
                    jobs.changed(j);
                }
            } catch (IOException | RuntimeException e) {
                System.err.println("attune: hot swap of '" + name + "' for job " + j.id + ": " + JobManager.oneLine(e.getMessage()));
            }
        }
    }

    /** Null when the new config record has the same component names and types as the old one. */
    static String incompatibility(Class<?> old, Class<?> now) {
        List<String> a = components(old);
        List<String> b = components(now);
        return a.equals(b) ? null : "was " + a + ", now " + b;
    }

    private static List<String> components(Class<?> c) {
        RecordComponent[] rc = c.getRecordComponents();
        if (rc == null) {
            return List.of(c.getName());
        }
        return Arrays.stream(rc).map(r -> r.getName() + ":" + r.getType().getName()).toList();
    }

    @Override
    public void close() {
        ctx.removeServiceListener(this);
    }
}
