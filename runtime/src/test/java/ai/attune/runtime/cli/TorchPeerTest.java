package ai.attune.runtime.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The PyTorch peer script compiles, trains a shrunken Llama with the parameter counts computed by
 * hand, and starts at the loss of uniform predictions; a Python without torch, or none, is refused
 * in one line that says what to do. Runs where Debian's /usr/bin/python3 is, the torch runs where
 * it has torch; skipped otherwise.
 */
class TorchPeerTest {
    static final Path SCRIPT = Path.of("..").resolve(TorchPeer.SCRIPT);
    static final Path PYTHON = Path.of("/usr/bin/python3");

    @TempDir
    Path dir;

    private static TorchPeer withTorch() {
        assumeTrue(Files.isExecutable(PYTHON), PYTHON + " is not installed");
        TorchPeer peer = new TorchPeer(PYTHON, SCRIPT);
        try {
            peer.check();
        } catch (IllegalStateException e) {
            assumeTrue(false, e.getMessage());
        }
        return peer;
    }

    @Test
    void theScriptCompiles() throws IOException, InterruptedException {
        assumeTrue(Files.isExecutable(PYTHON), PYTHON + " is not installed");
        Process p = new ProcessBuilder(PYTHON.toString(), "-c", "import sys; compile(open(sys.argv[1]).read(), sys.argv[1], 'exec')", SCRIPT.toString())
                .redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), output);
    }

    @Test
    void aShrunkenLlamaTrainsWithLoraOnQAndV() {
        // 1 layer, hidden 64 in 4 heads of 16, 2 key/value heads, MLP 128, vocab 256, tied head.
        TorchPeer.Shape shape = new TorchPeer.Shape(1, 64, 128, 4, 2, 256, true);
        JsonNode j = withTorch().train("lora", 1, 16, 1, 1, 1, shape);
        long base = 256 * 64 // embedding, also the head
                + 64 * 64 + 64 * 32 + 64 * 32 + 64 * 64 // q, k, v, o
                + 3 * 64 * 128 // gate, up, down
                + 2 * 64 + 64; // two norms in the layer, the final one
        long lora = (8 * 64 + 64 * 8) + (8 * 64 + 32 * 8); // r 8 on q_proj [64 <- 64] and v_proj [32 <- 64]
        assertEquals(lora, j.path("trained_parameters").asLong());
        assertEquals(base + lora, j.path("parameters").asLong());
        // Weights from N(0, 0.02²) give logits near zero: the loss of uniform predictions, ln 256.
        assertEquals(Math.log(256), j.path("loss").asDouble(), 0.1);
        assertEquals(1, j.path("threads").asInt());
        double stepSeconds = j.path("step_ms_median").asDouble() / 1e3;
        assertTrue(stepSeconds > 0 && Double.isFinite(stepSeconds), j.toString());
        assertEquals(16 / stepSeconds, j.path("tokens_per_second").asDouble(), 1e-9 * j.path("tokens_per_second").asDouble());
        assertTrue(j.path("peak_rss_mb").asDouble() > 0, j.toString());
    }

    @Test
    void fullFineTuningTrainsEveryWeightOfAnUntiedModel() {
        JsonNode j = withTorch().train("full", 2, 8, 1, 0, 1, new TorchPeer.Shape(2, 32, 48, 2, 2, 100, false));
        long perLayer = 4 * 32 * 32 + 3 * 32 * 48 + 2 * 32;
        assertEquals(2 * 100 * 32 + 2 * perLayer + 32, j.path("parameters").asLong());
        assertEquals(j.path("parameters").asLong(), j.path("trained_parameters").asLong());
    }

    @Test
    void theShapeComesFromALlamaConfig() throws IOException {
        ObjectMapper json = new ObjectMapper();
        StringBuilder why = new StringBuilder();
        TorchPeer.Shape preset = TorchPeer.Shape.ofLlama(json.readTree(BenchCommand.PRESETS.get("llama-100m")), why);
        assertEquals(new TorchPeer.Shape(12, 768, 2048, 12, 12, 32000, true), preset);
        assertEquals(List.of("--layers", "12", "--hidden", "768", "--intermediate", "2048", "--heads", "12", "--kv-heads", "12", "--vocab", "32000"),
                preset.flags());
        TorchPeer.Shape stories = TorchPeer.Shape.ofLlama(json.readTree(Path.of("../../shared/models/stories260K/config.json").toFile()), why);
        assertEquals(new TorchPeer.Shape(5, 64, 172, 8, 4, 512, true), stories);
        assertNull(TorchPeer.Shape.ofLlama(json.readTree("{\"model_type\": \"gpt2\"}"), why));
        assertEquals("model_type 'gpt2' (the peer builds Llama models)", why.toString());
    }

    @Test
    void thePeersLineGoesBesideAttunesWithTheSpeedupAndAWarningForAnUntunedBlas() throws IOException {
        ObjectMapper json = new ObjectMapper();
        com.fasterxml.jackson.databind.node.ObjectNode peer = (com.fasterxml.jackson.databind.node.ObjectNode) json.readTree("""
                {"tokens_per_second": 80.0, "step_ms_median": 12800.0, "peak_rss_mb": 3000.0, "loss": 10.4, "threads": 2,
                 "torch_version": "1.13.0", "gemm_gflops": 4.0, "blas": ["/usr/lib/x86_64-linux-gnu/blas/libblas.so.3"]}""");
        TrainingBench.Measured slow = BenchCommand.withPeer(attune(json), peer.deepCopy());
        assertEquals(2.5, slow.json().path("speedup_vs_peer").asDouble(), 1e-12);
        assertEquals(80.0, slow.json().path("peer_tokens_per_second").asDouble(), 0.0);
        assertEquals(4.0, slow.json().path("peer_gemm_gflops").asDouble(), 0.0);
        assertEquals("/usr/lib/x86_64-linux-gnu/blas/libblas.so.3", slow.json().path("peer_blas").asText());
        List<String> lines = slow.header().lines().toList();
        assertEquals(3, lines.size(), slow.header());
        assertTrue(lines.get(1).startsWith("peer: PyTorch 1.13.0 eager on 2 threads (f32 GEMM 4.0 GFLOP/s): 80.0 tokens/s, 12.80 s/step"), lines.get(1));
        assertTrue(lines.get(2).startsWith("warning: the peer's f32 GEMM runs at 4.0 GFLOP/s, 2.0% of the 200.0 GFLOP/s FMA peak"), lines.get(2));

        TrainingBench.Measured tuned = BenchCommand.withPeer(attune(json), peer.put("gemm_gflops", 14.0));
        assertEquals(2, tuned.header().lines().count(), "no warning: " + tuned.header());
    }

    private static TrainingBench.Measured attune(ObjectMapper json) {
        return new TrainingBench.Measured("train llama-100m", json.createObjectNode().put("tokens_per_second", 200.0).put("fma_peak_gflops", 200.0),
                null, 10.4, 256);
    }

    @Test
    void aPythonWithoutTorchOrNoneIsRefusedInOneLine() throws IOException {
        Path fake = dir.resolve("python");
        Files.writeString(fake, "#!/bin/sh\necho 'Traceback (most recent call last):' >&2\necho \"ModuleNotFoundError: No module named 'torch'\" >&2\nexit 1\n");
        Files.setPosixFilePermissions(fake, PosixFilePermissions.fromString("rwx------"));
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> new TorchPeer(fake, SCRIPT).check());
        assertEquals("--peer torch: " + fake + " cannot import torch (ModuleNotFoundError: No module named 'torch'); give a Python with PyTorch "
                + "as --peer-python (Debian: apt install python3-torch)", e.getMessage());

        Path none = dir.resolve("no-python");
        e = assertThrows(IllegalStateException.class, () -> new TorchPeer(none, SCRIPT).check());
        assertEquals("--peer torch: " + none + " does not exist; give a Python with PyTorch as --peer-python", e.getMessage());

        e = assertThrows(IllegalStateException.class, () -> new TorchPeer(fake, dir.resolve("torch_lora.py")).check());
        assertTrue(e.getMessage().endsWith("torch_lora.py is missing; the distribution's bench/peers/ holds it"), e.getMessage());
    }
}
