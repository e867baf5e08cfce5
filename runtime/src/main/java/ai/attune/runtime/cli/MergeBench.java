package ai.attune.runtime.cli;

import ai.attune.api.io.AtomicDirectory;
import ai.attune.api.io.SafetensorsWriter;
import ai.attune.api.nn.Module;
import ai.attune.api.nn.Parameter;
import ai.attune.api.tensor.DType;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code attune bench --op merge}: writes a base and N fine-tuned-like models of a preset's shape
 * (f32, the base uniform in ±0.02, each model the base plus its own noise in ±0.002) and runs
 * {@code attune merge} on them in a process of its own, as a user would, reporting its seconds and
 * peak resident memory.
 */
final class MergeBench {
    private static final Pattern RESULT = Pattern.compile("merge: \\S+ of (\\d+) tensors in ([0-9.]+) s, peak RSS ([0-9.]+) MiB");
    private final PrintWriter out;

    MergeBench(PrintWriter out) {
        this.out = out;
    }

    void run(Module shapes, Path configJson, String name, String method, int models) throws IOException, InterruptedException {
        Map<String, Parameter> params = shapes.namedParameters();
        long numel = params.values().stream().mapToLong(p -> p.value().numel()).sum();
        long largest = params.values().stream().mapToLong(p -> p.value().numel()).max().orElse(0);
        Path dir = Files.createTempDirectory("attune-merge-bench");
        try {
            List<String> entries = new ArrayList<>();
            for (int m = 0; m <= models; m++) {
                Path model = dir.resolve(m == 0 ? "base" : "model-" + m);
                write(model, configJson, params, m);
                if (m > 0) {
                    entries.add("  - model: " + model + "\n    parameters: {weight: " + (1.0 / models) + ", density: 0.5}\n");
                }
            }
            Path config = dir.resolve("merge.yaml");
            Files.writeString(config, "merge_method: " + method + "\nbase_model: " + dir.resolve("base") + "\nmodels:\n"
                    + String.join("", entries) + "dtype: float32\n");
            out.printf("merge bench: %s of %d x %s (%,d parameters, f32, %.0f MB each; largest tensor %.0f MB)%n", method, models, name, numel,
                    numel * 4 / 1e6, largest * 4 / 1e6);
            out.flush();
            Path launcher = Path.of(System.getProperty("attune.home", "."), "bin", "attune");
            Process p = new ProcessBuilder(launcher.toString(), "merge", config.toString(), "--out", dir.resolve("merged").toString())
                    .redirectErrorStream(true).start();
            String log = new String(p.getInputStream().readAllBytes());
            if (!p.waitFor(30, TimeUnit.MINUTES) || p.exitValue() != 0) {
                throw new IllegalStateException("attune merge failed: " + log.strip().lines().reduce((a, b) -> b).orElse(""));
            }
            Matcher r = RESULT.matcher(log);
            if (!r.find()) {
                throw new IllegalStateException("attune merge printed no result line: " + log);
            }
            double mib = Double.parseDouble(r.group(3));
            out.printf("merge: %s tensors in %s s, peak RSS %.0f MiB (the merge process, JVM included)%n", r.group(1), r.group(2), mib);
            out.printf("{\"bench\":\"merge\",\"method\":\"%s\",\"models\":%d,\"parameters\":%d,\"seconds\":%s,\"peak_rss_mib\":%.0f}%n",
                    method, models, numel, r.group(2), mib);
        } finally {
            AtomicDirectory.deleteTree(dir);
        }
    }

    /** One model directory, its tensors drawn while they are written: nothing is held in memory. */
    private static void write(Path model, Path configJson, Map<String, Parameter> params, int index) throws IOException {
        Files.createDirectories(model);
        Files.copy(configJson, model.resolve("config.json"));
        SafetensorsWriter w = new SafetensorsWriter();
        int t = 0;
        for (var e : params.entrySet()) {
            long n = e.getValue().value().numel();
            int[] shape = e.getValue().value().shape();
            long[] dims = new long[shape.length];
            for (int i = 0; i < dims.length; i++) {
                dims[i] = shape[i];
            }
            long tensorSeed = ++t * 0x9E3779B97F4A7C15L;
            w.add(e.getKey(), DType.F32, dims, channel -> {
                ByteBuffer buf = ByteBuffer.allocateDirect(1 << 22).order(ByteOrder.LITTLE_ENDIAN);
                for (long i = 0; i < n; i++) {
                    float base = 0.04f * (unit(tensorSeed + i) - 0.5f);
                    float v = index == 0 ? base : base + 0.004f * (unit(tensorSeed ^ (long) index << 56 ^ i * 31) - 0.5f);
                    buf.putFloat(v);
                    if (!buf.hasRemaining() || i == n - 1) {
                        buf.flip();
                        while (buf.hasRemaining()) {
                            channel.write(buf);
                        }
                        buf.clear();
                    }
                }
            });
        }
        w.writeSharded(model, "model", Long.MAX_VALUE);
    }

    /** A uniform float in [0, 1) from a counter (SplitMix64). */
    private static float unit(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return ((z ^ (z >>> 31)) >>> 40) * 0x1.0p-24f;
    }
}
