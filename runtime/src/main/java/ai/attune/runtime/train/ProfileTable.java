package ai.attune.runtime.train;

import ai.attune.api.tensor.OpProfile;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * An {@link OpProfile} over training steps as torch.profiler's key-averages table: one row per op
 * by self time, with its share of the steps' time, and a last row for the time no kernel was
 * open (autograd, the model's Java code, the optimizer's bookkeeping): the framework overhead.
 *
 * @param rows the ops by self time, descending, then {@value #OUTSIDE}
 * @param steps the steps profiled
 * @param stepNanos the steps' time together
 */
public record ProfileTable(List<Row> rows, int steps, long stepNanos) {
    /** The last row's name. */
    public static final String OUTSIDE = "(outside kernels)";

    /**
     * One op's line.
     *
     * @param calls null for {@value #OUTSIDE}
     * @param gflops achieved GFLOP/s over self time, NaN where the op counts no FLOPs
     */
    public record Row(String name, Long calls, double selfMs, double msPerStep, double share, double gflops, double mibAllocated) {}

    /** The table of {@code snapshot} taken over {@code steps} steps that took {@code stepNanos} together. */
    public static ProfileTable of(OpProfile.Snapshot snapshot, int steps, long stepNanos) {
        List<Row> rows = new ArrayList<>();
        for (OpProfile.Row r : snapshot.rows()) {
            double gflops = r.flops() > 0 && r.selfNanos() > 0 ? r.flops() / r.selfNanos() : Double.NaN;
            rows.add(row(r.name(), r.calls(), r.selfNanos(), steps, stepNanos, gflops, r.bytesAllocated()));
        }
        // Negative only if kernels ran outside the timed steps' clock; shown as it is rather than hidden.
        long outside = stepNanos - snapshot.selfNanos();
        rows.add(row(OUTSIDE, null, outside, steps, stepNanos, Double.NaN, snapshot.bytesOutsideOps()));
        return new ProfileTable(List.copyOf(rows), steps, stepNanos);
    }

    private static Row row(String name, Long calls, long selfNanos, int steps, long stepNanos, double gflops, long bytes) {
        return new Row(name, calls, selfNanos / 1e6, selfNanos / 1e6 / steps, stepNanos > 0 ? (double) selfNanos / stepNanos : Double.NaN,
                gflops, bytes / (1024.0 * 1024.0));
    }

    /** The table as text, one line per row, aligned; the header names the units. */
    public String format() {
        int width = Math.max(30, rows.stream().mapToInt(r -> r.name().length()).max().orElse(0));
        StringBuilder b = new StringBuilder();
        String head = "%-" + width + "s %8s %12s %10s %7s %9s %10s%n";
        String line = "%-" + width + "s %8s %12.1f %10.2f %6.1f%% %9s %10.1f%n";
        b.append(String.format(Locale.ROOT, head, "op", "calls", "self ms", "ms/step", "share", "GFLOP/s", "MiB alloc"));
        for (Row r : rows) {
            b.append(String.format(Locale.ROOT, line, r.name(), r.calls() == null ? "" : r.calls().toString(), r.selfMs(), r.msPerStep(),
                    100 * r.share(), Double.isNaN(r.gflops()) ? "" : String.format(Locale.ROOT, "%.1f", r.gflops()), r.mibAllocated()));
        }
        b.append(String.format(Locale.ROOT, "%d steps, %.1f ms per step%n", steps, stepNanos / 1e6 / steps));
        return b.toString();
    }

    /** The table of a {@code profile} event: its {@code ops}, {@code steps} and {@code step_ms}. */
    public static ProfileTable fromJson(JsonNode event) {
        List<Row> rows = new ArrayList<>();
        for (JsonNode o : event.path("ops")) {
            rows.add(new Row(o.path("op").asText(), o.has("calls") ? o.get("calls").asLong() : null, o.path("self_ms").asDouble(),
                    o.path("ms_per_step").asDouble(), o.path("share").asDouble(), o.has("gflops") ? o.get("gflops").asDouble() : Double.NaN,
                    o.path("mib_allocated").asDouble()));
        }
        int steps = event.path("steps").asInt();
        return new ProfileTable(List.copyOf(rows), steps, (long) (event.path("step_ms").asDouble() * 1e6 * steps));
    }

    /** The rows as JSON objects with the header's fields; gflops is absent where the op counts no FLOPs. */
    public ArrayNode toJson() {
        ArrayNode a = JsonNodeFactory.instance.arrayNode();
        for (Row r : rows) {
            ObjectNode o = a.addObject().put("op", r.name());
            if (r.calls() != null) {
                o.put("calls", r.calls());
            }
            o.put("self_ms", r.selfMs()).put("ms_per_step", r.msPerStep()).put("share", r.share());
            if (!Double.isNaN(r.gflops())) {
                o.put("gflops", r.gflops());
            }
            o.put("mib_allocated", r.mibAllocated());
        }
        return a;
    }
}
