package ai.attune.itests;

import org.junit.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Arrays;
import java.util.List;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

/**
 * Bad input to a command that writes an output fails in one line naming the file, exit 1, and
 * leaves no output behind, so the corrected command runs exactly as it was first typed.
 */
public class FailedStartIT {
    static final Path REPO = TrainLauncherIT.RECIPE.getParent().getParent();
    static final Path STORIES = Path.of(LauncherIT.STORIES);

    /** A copy of stories260K whose model.safetensors is cut to a tenth, as an interrupted download leaves it. */
    static Path truncatedStories(Path dir) throws IOException {
        Path model = Files.createDirectories(dir.resolve("stories260K"));
        try (var files = Files.list(STORIES)) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                Files.write(model.resolve(f.getFileName()), Files.readAllBytes(f)); // a writable copy; the shared assets are read-only
            }
        }
        byte[] weights = Files.readAllBytes(STORIES.resolve("model.safetensors"));
        Files.write(model.resolve("model.safetensors"), Arrays.copyOf(weights, weights.length / 10));
        return model;
    }

    /** What Attune itself printed on stderr (the JVM adds a warning about incubator modules). */
    static List<String> attuneLines(String err) {
        return err.lines().filter(l -> l.startsWith("attune:")).toList();
    }

    static void assertOneLineNaming(LauncherIT.Result r, String expected) {
        assertEquals(r.err(), 1, r.code());
        List<String> lines = attuneLines(r.err());
        assertEquals(r.err(), 1, lines.size());
        assertTrue(r.err(), lines.getFirst().startsWith("attune: " + expected));
        assertFalse(r.err(), r.err().contains("\tat "));
    }

    @Test
    public void trainWithATruncatedModelLeavesNoRunAndTheFixedModelTrains() throws Exception {
        Path base = Files.createTempDirectory("attune-failed-start");
        Path model = truncatedStories(base);
        Path out = base.resolve("runs/lora");
        String[] cmd = TrainLauncherIT.args("train", TrainLauncherIT.RECIPE,
                List.of("--set", "model=" + model, "--set", "output=" + out, "--set", "train.max_steps=2"));

        LauncherIT.Result failed = LauncherIT.attuneIn(REPO, cmd);
        assertOneLineNaming(failed, "model.safetensors: tensor 'model.embed_tokens.weight': data_offsets [0, 131072] extend past the data buffer");
        assertFalse("no run directory after a failed start", Files.exists(out));

        Files.copy(STORIES.resolve("model.safetensors"), model.resolve("model.safetensors"), StandardCopyOption.REPLACE_EXISTING);
        LauncherIT.Result fixed = LauncherIT.attuneIn(REPO, cmd);
        assertEquals(fixed.err(), 0, fixed.code());
        assertTrue(fixed.out(), fixed.out().startsWith("trained 2 steps: loss "));
        assertTrue(Files.isRegularFile(out.resolve("final/adapter_model.safetensors")));
        assertEquals(2, Files.readAllLines(out.resolve("events.jsonl")).stream().filter(l -> l.contains("\"type\":\"step\"")).count());
    }

    @Test
    public void exportOfABrokenAdapterLeavesNoOutput() throws Exception {
        Path base = Files.createTempDirectory("attune-failed-start");
        Path adapter = Files.createDirectories(base.resolve("adapter"));
        Files.writeString(adapter.resolve("adapter_config.json"), "{\"peft_type\": \"LORA\", \"r\": 4, \"lora_alpha\": 8, \"target_modules\": [\"q_proj\"]}");
        // an 8-byte header length of 64, then a header cut off after 5 bytes
        Files.write(adapter.resolve("adapter_model.safetensors"), new byte[] {64, 0, 0, 0, 0, 0, 0, 0, '{', '"', 'a', '"', ':'});
        Path out = base.resolve("exports/merged");
        LauncherIT.Result r = LauncherIT.attune("export", "--model", LauncherIT.STORIES, "--adapter", adapter.toString(), "--out", out.toString());
        assertOneLineNaming(r, "adapter_model.safetensors: header length 64 runs past the end of the file (13 bytes)");
        assertFalse("neither the output nor its parent was made", Files.exists(out.getParent()));
        try (var left = Files.list(base)) {
            assertEquals(List.of(adapter), left.toList());
        }
    }

    @Test
    public void setfitWithBadInputLeavesNoOutput() throws Exception {
        Path base = Files.createTempDirectory("attune-failed-start");
        Path eval = base.resolve("eval.csv");
        Files.writeString(eval, "text,label\nthe screen is blank,hardware\nI was charged twice,billing\n");
        Path cutShort = base.resolve("train.csv");
        Files.writeString(cutShort, "text,label\nthe fan is loud,hardware\nrefund my order,billing\n\"the keyboard,hardware\n");
        Path out = base.resolve("classifier");

        LauncherIT.Result badData = LauncherIT.attune("setfit", "--train", cutShort.toString(), "--eval", eval.toString(), "--out", out.toString());
        assertOneLineNaming(badData, "train.csv:5: not valid CSV");
        assertFalse(Files.exists(out));

        Files.writeString(cutShort, "text,label\nthe fan is loud,hardware\nrefund my order,billing\n");
        LauncherIT.Result badModel = LauncherIT.attune("setfit", "--train", cutShort.toString(), "--eval", eval.toString(), "--out", out.toString(),
                "--model", truncatedStories(base).toString());
        assertOneLineNaming(badModel, "model.safetensors: tensor 'model.embed_tokens.weight'");
        assertFalse(Files.exists(out));
    }
}
