package ai.attune.runtime.cli;

import ai.attune.api.spi.Kind;
import ai.attune.api.spi.Merger;
import ai.attune.runtime.host.AttuneRuntime;
import ai.attune.runtime.host.PluginCatalog;
import ai.attune.runtime.host.RuntimeLayout;
import ai.attune.runtime.merge.MergeConfig;
import ai.attune.runtime.merge.MergeException;
import ai.attune.runtime.merge.ModelMerge;
import ai.attune.runtime.merge.ShardSize;
import ai.attune.runtime.model.ModelLoader;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.Set;

/** {@code attune merge}: mergekit's merges, streamed tensor by tensor into a Hugging Face model directory. */
@Command(name = "merge", description = "Merge models as a mergekit config says (linear, task_arithmetic, ties, dare_linear, dare_ties, "
        + "breadcrumbs, breadcrumbs_ties, slerp), one tensor at a time, into a Hugging Face model directory.")
public final class MergeCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "CONFIG.yaml", description = "mergekit's config: merge_method, base_model, models, parameters, dtype, ...")
    Path config;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Where the merged model goes; must not exist yet.")
    Path out;

    @Option(names = "--random-seed", paramLabel = "N", description = "Seed of DARE's draws; wins over the config's seed (default 0).")
    Long seed;

    @Option(names = "--copy-tokenizer", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "Copy the tokenizer files per tokenizer_source (default: on).")
    boolean copyTokenizer;

    @Option(names = "--max-shard-size", paramLabel = "SIZE", defaultValue = "5GB", description = "Largest safetensors shard (default: ${DEFAULT-VALUE}).")
    String maxShardSize;

    @Override
    public void run() {
        PrintWriter err = spec.commandLine().getErr();
        long shardBytes = ShardSize.parse(maxShardSize);
        if (Files.exists(out)) {
            throw new MergeException(out + ": already exists; choose a new output directory");
        }
        long t0 = System.nanoTime();
        try (AttuneRuntime rt = AttuneRuntime.boot(RuntimeLayout.fromSystem())) {
            PluginCatalog plugins = rt.plugins();
            Set<String> installed = new LinkedHashSet<>();
            plugins.list(Kind.MERGE).forEach(e -> installed.add(e.name()));
            MergeConfig cfg = MergeConfig.bind(config, MergeConfig.read(config),
                    name -> plugins.find(Kind.MERGE, name, Merger.class).orElse(null), installed);
            Merger merger = plugins.find(Kind.MERGE, cfg.method(), Merger.class).orElseThrow();
            ModelLoader loader = new ModelLoader(plugins);
            try (ModelMerge merge = ModelMerge.plan(cfg, merger, seed, dir -> loader.adapterMethod(dir).weightUpdates(dir))) {
                merge.write(out, copyTokenizer, shardBytes, (done, total) -> {
                    if (done % 50 == 0 || done == total) {
                        err.println("merge: " + done + "/" + total + " tensors");
                        err.flush();
                    }
                });
                err.printf("merge: %s of %d tensors in %.1f s, peak RSS %.0f MiB%n", cfg.method(), merge.tensorCount(),
                        (System.nanoTime() - t0) / 1e9, peakRssMib());
            }
            spec.commandLine().getOut().println(out);
        } catch (IOException e) {
            throw new UncheckedIOException(e.getMessage(), e);
        }
    }

    /** VmHWM of this process: the most it was ever resident, in MiB. */
    static double peakRssMib() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024.0;
                }
            }
        } catch (IOException | RuntimeException ignored) {
            // not Linux
        }
        return Double.NaN;
    }
}
