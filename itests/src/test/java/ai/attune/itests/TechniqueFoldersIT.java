package ai.attune.itests;

import ai.attune.api.spi.DataFormat;
import ai.attune.api.spi.Merger;
import ai.attune.api.spi.Method;
import ai.attune.api.spi.Optimizer;
import ai.attune.api.spi.Quantizer;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.osgi.framework.BundleContext;

import javax.inject.Inject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

/**
 * Each technique is a folder: its bundle alone makes it exist. Dropped into the watched deploy
 * directory it registers, deleted it is gone, dropped again it is back, while the framework runs;
 * and nothing in runtime/ or a model family names it.
 */
@RunWith(PaxExam.class)
public class TechniqueFoldersIT {
    private static final long TIMEOUT_MS = 30_000;

    /** artifact, SPI, service filter. */
    record Technique(String artifact, Class<?> spi, String filter) {}

    static final List<Technique> TECHNIQUES = List.of(
            new Technique("attune-prompt-tuning", Method.class, "(" + Method.PROPERTY + "=prompt_tuning)"),
            new Technique("attune-prefix-tuning", Method.class, "(" + Method.PROPERTY + "=prefix_tuning)"),
            new Technique("attune-adapter", Method.class, "(" + Method.PROPERTY + "=adapter)"),
            new Technique("attune-merge-linear", Merger.class, "(" + Merger.PROPERTY + "=linear)"),
            new Technique("attune-merge-task-arithmetic", Merger.class, "(" + Merger.PROPERTY + "=ties)"),
            new Technique("attune-merge-slerp", Merger.class, "(" + Merger.PROPERTY + "=slerp)"),
            new Technique("attune-quant-bnb4", Quantizer.class, "(" + Quantizer.PROPERTY + "=nf4)"),
            new Technique("attune-data-text", DataFormat.class, "(" + DataFormat.PROPERTY + "=tokens)"),
            new Technique("attune-data-instruct", DataFormat.class, "(" + DataFormat.PROPERTY + "=prompt_completion)"),
            new Technique("attune-data-chat", DataFormat.class, "(" + DataFormat.PROPERTY + "=chat)"),
            new Technique("attune-optim-adafactor", Optimizer.class, "(" + Optimizer.PROPERTY + "=adafactor)"),
            // one service under both names
            new Technique("attune-optim-adamw8bit", Optimizer.class,
                    "(&(" + Optimizer.PROPERTY + "=adamw_8bit)(" + Optimizer.PROPERTY + "=paged_adamw_8bit))"));

    @Inject
    BundleContext context;

    static Path deployDir() {
        return Path.of(System.getProperty("attune.itest.dir")).resolve("deploy-techniques");
    }

    @Configuration
    public Option[] config() throws IOException {
        return Bundles.watching(deployDir());
    }

    @Test
    public void eachTechniqueComesAndGoesWithItsBundle() throws Exception {
        for (Technique t : TECHNIQUES) {
            assertEquals(t.artifact() + " before the drop", 0, count(t));
            Path target = deployDir().resolve(t.artifact() + ".jar");
            drop(t, target);
            assertTrue(t.artifact() + " did not appear", waitFor(t, 1));
            Files.delete(target);
            assertTrue(t.artifact() + " did not disappear", waitFor(t, 0));
            drop(t, target);
            assertTrue(t.artifact() + " did not come back", waitFor(t, 1));
            Files.delete(target);
            assertTrue(t.artifact() + " did not leave again", waitFor(t, 0));
        }
    }

    @Test
    public void noRuntimeOrModelFamilyFileNamesTheNewTechniques() throws IOException {
        Path repo = Path.of(System.getProperty("attune.itest.dir")).toAbsolutePath().getParent().getParent().getParent();
        List<String> names = List.of("prompt_tuning", "prefix_tuning", "ai.attune.plugins.prompttuning", "ai.attune.plugins.prefixtuning",
                "ai.attune.plugins.adapter", "ai.attune.plugins.merge", "TiesMerger", "PromptTuningMethod", "AdapterMethod",
                "prompt_completion", "alpaca", "ai.attune.plugins.data", "TokensFormat", "ChatFormat", "ChatLabels",
                "adafactor", "Adafactor", "adamw_8bit", "AdamW8bit", "ai.attune.plugins.optim.adamw8bit",
                "ai.attune.plugins.quant", "Nf4Quantizer", "Fp4Quantizer", "dQuantizeNF4", "ai.attune.plugins.qlora", "QloraMethod");
        List<Path> roots = Stream.of("runtime/src/main", "plugins/model-llama/src/main", "plugins/model-gpt2/src/main",
                "plugins/model-bert/src/main").map(repo::resolve).toList();
        int files = 0;
        for (Path root : roots) {
            assertTrue(root + " exists", Files.isDirectory(root));
            try (Stream<Path> all = Files.walk(root)) {
                // The memory planner is the one exception: it prices techniques by name (Adafactor's
                // and 8-bit AdamW's state, a QLoRA base) without loading them, to advise on what is not installed.
                Path planner = repo.resolve("runtime/src/main/java/ai/attune/runtime/plan");
                for (Path f : all.filter(Files::isRegularFile).filter(f -> !f.startsWith(planner)).toList()) {
                    String text = Files.readString(f);
                    files++;
                    for (String n : names) {
                        assertTrue(f + " names " + n, !text.contains(n));
                    }
                }
            }
        }
        assertTrue("the scan read the sources: " + files, files > 50);
    }

    private static void drop(Technique t, Path target) throws IOException {
        Path tmp = deployDir().resolve("." + t.artifact() + ".jar.part");
        Files.copy(Bundles.jar(t.artifact()), tmp, StandardCopyOption.REPLACE_EXISTING);
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE); // as a user's mv: never half a jar
    }

    private int count(Technique t) throws Exception {
        var refs = context.getServiceReferences(t.spi().getName(), t.filter());
        return refs == null ? 0 : refs.length;
    }

    private boolean waitFor(Technique t, int n) throws Exception {
        long deadline = System.currentTimeMillis() + TIMEOUT_MS;
        while (System.currentTimeMillis() < deadline) {
            if (count(t) == n) {
                return true;
            }
            Thread.sleep(50);
        }
        return false;
    }
}
