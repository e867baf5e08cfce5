package ai.attune.runtime.server;

import ai.attune.api.io.AtomicDirectory;
import ai.attune.api.spi.Kind;
import ai.attune.api.spi.Merger;
import ai.attune.runtime.host.PluginCatalog;
import ai.attune.runtime.merge.MergeConfig;
import ai.attune.runtime.merge.ModelMerge;
import ai.attune.runtime.merge.ShardSize;
import ai.attune.runtime.train.StepControl;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.function.Consumer;

/**
 * Runs merge jobs: a mergekit config submitted like a recipe. Its models are checked at submission
 * (the whole plan, as {@code attune merge} checks it); the merged model is written to
 * {@code <run>/merged/} as one directory renamed into place, and events.jsonl gets a line per tenth
 * of the tensors. A merge has no checkpoints: resuming it runs it again.
 */
final class MergeJobRunner {
    static final String CONFIG = "recipe.yaml";
    static final String OUTPUT = "merged";
    private final TrainJobRunner.Supplier catalog;
    private final ObjectMapper json = new ObjectMapper();

    MergeJobRunner(TrainJobRunner.Supplier catalog) {
        this.catalog = catalog;
    }

    static boolean isMerge(ObjectNode recipe) {
        return recipe.has("merge_method");
    }

    void create(Path runDir, ObjectNode config) throws IOException {
        MergeConfig cfg = bind(runDir.resolve(CONFIG), config);
        try (ModelMerge plan = ModelMerge.plan(cfg, merger(cfg), null, adapters())) {
            Files.writeString(runDir.resolve(CONFIG), cfg.toYaml());
        }
    }

    void run(Path runDir, StepControl control, Consumer<ObjectNode> events) throws IOException {
        Path out = runDir.resolve(OUTPUT);
        if (Files.isDirectory(out)) {
            return; // merged before the server stopped
        }
        MergeConfig cfg = bind(runDir.resolve(CONFIG), MergeConfig.read(runDir.resolve(CONFIG)));
        long t0 = System.nanoTime();
        try (ModelMerge merge = ModelMerge.plan(cfg, merger(cfg), null, adapters())) {
            merge.write(out, true, ShardSize.parse("5GB"), (done, total) -> {
                try {
                    while (!control.beforeStep(done)) { // cancel and pause take effect between tensors
                        control.commands(); // a merge takes no commands (the server refuses them): none are ever queued
                    }
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    throw new java.util.concurrent.CancellationException("interrupted");
                }
                if (done * 10L / total != (done - 1) * 10L / total || done == total) {
                    ObjectNode e = json.createObjectNode().put("type", "merge").put("step", done).put("tensors", total)
                            .put("seconds", (System.nanoTime() - t0) / 1e9);
                    Files.writeString(runDir.resolve("events.jsonl"), json.writeValueAsString(e) + "\n", StandardCharsets.UTF_8,
                            StandardOpenOption.CREATE, StandardOpenOption.APPEND);
                    events.accept(e);
                }
            });
        } catch (IOException | RuntimeException e) {
            AtomicDirectory.deleteTree(out);
            throw e;
        }
    }

    private MergeConfig bind(Path source, ObjectNode config) {
        PluginCatalog plugins = catalog.get();
        Set<String> installed = new LinkedHashSet<>();
        plugins.list(Kind.MERGE).forEach(e -> installed.add(e.name()));
        return MergeConfig.bind(source, config, name -> plugins.find(Kind.MERGE, name, Merger.class).orElse(null), installed);
    }

    private ai.attune.runtime.merge.MergeInput.Adapters adapters() {
        ai.attune.runtime.model.ModelLoader loader = new ai.attune.runtime.model.ModelLoader(catalog.get());
        return dir -> loader.adapterMethod(dir).weightUpdates(dir);
    }

    private Merger merger(MergeConfig cfg) {
        return catalog.get().find(Kind.MERGE, cfg.method(), Merger.class).orElseThrow();
    }
}
