package ai.attune.runtime.server;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The server's Prometheus metrics: jobs by state, steps, the latest loss and tokens/s, a step-time
 * histogram, JVM memory (heap and the direct/mapped buffer pools where off-heap tensors live) and
 * the process RSS, which also counts native allocations Java does not see.
 */
public final class ServerMetrics {
    private final PrometheusMeterRegistry registry;
    private final Counter steps;
    private final Timer stepTime;
    private final Map<String, Long> lastStepNanos = new ConcurrentHashMap<>();
    private final Map<String, AtomicLong> techniques = new ConcurrentHashMap<>();
    private final AtomicLong lastLoss = new AtomicLong(Double.doubleToLongBits(Double.NaN));
    private final AtomicLong tokensPerSecond = new AtomicLong(Double.doubleToLongBits(Double.NaN));

    public ServerMetrics(PrometheusMeterRegistry registry) {
        this.registry = registry;
        new JvmMemoryMetrics().bindTo(registry);
        Gauge.builder("attune.process.rss", ServerMetrics::rssBytes).baseUnit("bytes").description("resident set size of the server process").register(registry);
        steps = Counter.builder("attune.steps").description("optimizer steps taken by all jobs").register(registry);
        stepTime = Timer.builder("attune.step.time").description("wall time between consecutive steps of a job")
                .publishPercentileHistogram().minimumExpectedValue(Duration.ofMillis(1)).maximumExpectedValue(Duration.ofMinutes(10)).register(registry);
        Gauge.builder("attune.job.loss", () -> Double.longBitsToDouble(lastLoss.get())).description("loss of the latest step of any job").register(registry);
        Gauge.builder("attune.job.tokens.per.second", () -> Double.longBitsToDouble(tokensPerSecond.get()))
                .description("training throughput of the latest step of any job").register(registry);
    }

    public static PrometheusMeterRegistry newRegistry() {
        return new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    }

    /** Gauges of job counts by state, read from the manager at scrape time. */
    void bind(JobManager jobs) {
        for (JobState s : JobState.values()) {
            Gauge.builder("attune.jobs", jobs, m -> m.count(s)).tag("state", s.wire()).description("jobs by state").register(registry);
        }
    }

    void state(String id, ObjectNode view) {
        if (!"running".equals(view.path("state").asText())) {
            lastStepNanos.remove(id); // a pause or the end must not count as a slow step
        } else {
            lastStepNanos.put(id, System.nanoTime());
        }
    }

    /** A job's event: steps feed the step metrics, {@code metric} events the technique gauges. */
    void step(String id, ObjectNode event) {
        switch (event.path("type").asText()) {
            case "step" -> stepTaken(id, event);
            case "metric" -> technique(event);
            default -> { }
        }
    }

    /**
     * A technique's numbers ({@code method/lora}'s per-layer ‖B·A‖, {@code memory}'s loss scale) as
     * the gauge {@code attune.technique.metric}, tagged by source and name, latest value of any job.
     */
    private void technique(ObjectNode event) {
        String source = event.path("source").asText();
        event.path("values").fields().forEachRemaining(v -> {
            if (v.getValue().isNumber()) {
                techniques.computeIfAbsent(source + "\u0000" + v.getKey(), k -> {
                    AtomicLong cell = new AtomicLong(Double.doubleToLongBits(Double.NaN));
                    Gauge.builder("attune.technique.metric", cell, c -> Double.longBitsToDouble(c.get())).tag("source", source)
                            .tag("name", v.getKey()).description("a number a technique reports after each step").register(registry);
                    return cell;
                }).set(Double.doubleToLongBits(v.getValue().asDouble()));
            }
        });
    }

    private void stepTaken(String id, ObjectNode event) {
        steps.increment();
        long now = System.nanoTime();
        Long prev = lastStepNanos.put(id, now);
        if (prev != null) {
            stepTime.record(Duration.ofNanos(now - prev));
        }
        lastLoss.set(Double.doubleToLongBits(event.path("loss").asDouble(Double.NaN)));
        tokensPerSecond.set(Double.doubleToLongBits(event.path("tokens_per_second").asDouble(Double.NaN)));
    }

    public PrometheusMeterRegistry registry() {
        return registry;
    }

    public String scrape() {
        return registry.scrape();
    }

    static double rssBytes() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024.0;
                }
            }
        } catch (IOException | RuntimeException ignored) {
            // not Linux
        }
        return Double.NaN;
    }
}
