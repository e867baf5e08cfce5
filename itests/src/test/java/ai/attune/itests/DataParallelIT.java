package ai.attune.itests;

import ai.attune.api.io.SafetensorsFile;
import org.junit.Test;

import java.lang.foreign.ValueLayout;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

/**
 * Data-parallel training from the launcher, as a user runs it: {@code attune train --nproc-per-node
 * 2} on stories260K takes the same steps as one process accumulating the two ranks' micro-batches
 * (the single-process loop is itself checked against an independent PyTorch-semantics reference in
 * the runtime's TrainingLoopReferenceTest), dropout included; a malformed data line stops every
 * rank with one line and leaves nothing behind.
 */
public class DataParallelIT {
    private static final Path REPO = TrainLauncherIT.RECIPE.getParent().getParent();

    private static String recipe(Path dir, String method, String methodBlock) throws Exception {
        Path r = dir.resolve(method + ".yaml");
        Files.writeString(r, """
                model: %s
                method: %s
                %s
                data: {format: text, path: %s, max_seq_len: 32, truncate: true, shuffle: true}
                train:
                  micro_batch_size: 2
                  gradient_accumulation_steps: 2
                  max_steps: 4
                  seed: 3
                  optimizer: {name: adamw, lr: 1.0e-2}
                output: %s
                """.formatted(LauncherIT.STORIES, method, methodBlock, REPO.resolve("../shared/data/text/mobydick.txt").normalize(),
                dir.resolve("unused")));
        return r.toString();
    }

    /** One process with accumulation 2, and two ranks with accumulation 1: the same global batch of 4 sequences per step. */
    private static void sameAsOneProcess(String method, String block, String file) throws Exception {
        Path dir = Files.createTempDirectory("attune-dp-" + method);
        String r = recipe(dir, method, block);
        LauncherIT.Result single = LauncherIT.attuneIn(REPO, "train", r, "--set", "output=" + dir.resolve("single"));
        assertEquals(single.err(), 0, single.code());
        LauncherIT.Result two = LauncherIT.attuneIn(REPO, "train", r, "--set", "output=" + dir.resolve("two"),
                "--set", "train.gradient_accumulation_steps=1", "--nproc-per-node", "2");
        assertEquals(two.err(), 0, two.code());
        assertTrue(two.out(), two.out().startsWith("trained 4 steps: loss "));
        assertEquals("one line on stdout, rank 0's", 1, two.out().lines().count());

        assertSameWeights(dir.resolve("single/final").resolve(file), dir.resolve("two/final").resolve(file));
        List<String> events = Files.readAllLines(dir.resolve("two/events.jsonl"));
        assertEquals("rank 0 alone writes the events", 4, events.stream().filter(l -> l.contains("\"type\":\"step\"")).count());
        assertTrue(events.stream().anyMatch(l -> l.contains("\"type\":\"data_parallel\"") && l.contains("\"world_size\":2")));
        try (var files = Files.list(dir.resolve("two"))) {
            assertEquals("exactly one final model", List.of("events.jsonl", "final", "recipe.yaml"),
                    files.map(p -> p.getFileName().toString()).sorted().toList());
        }
        // Summing two ranks' gradients rounds differently from accumulating them in one buffer: float32 rounding apart, no more.
        double[] a = losses(dir.resolve("single/events.jsonl"));
        double[] b = losses(dir.resolve("two/events.jsonl"));
        assertEquals(4, a.length);
        for (int i = 0; i < a.length; i++) {
            assertEquals("step " + (i + 1) + " loss", a[i], b[i], 1e-5 * Math.abs(a[i]));
        }
    }

    /** Every tensor of two safetensors files within 1e-5: 2 ranks x (MB 2, GA 1) against 1 process x (MB 2, GA 2). */
    private static void assertSameWeights(Path single, Path ranks) throws Exception {
        float worst = 0;
        try (SafetensorsFile a = SafetensorsFile.open(single); SafetensorsFile b = SafetensorsFile.open(ranks)) {
            assertEquals(a.names(), b.names());
            for (String n : a.names()) {
                float[] x = a.data(n).toArray(ValueLayout.JAVA_FLOAT);
                float[] y = b.data(n).toArray(ValueLayout.JAVA_FLOAT);
                for (int i = 0; i < x.length; i++) {
                    worst = Math.max(worst, Math.abs(x[i] - y[i]));
                }
            }
        }
        assertTrue("2 ranks x (MB 2, GA 1) vs 1 process x (MB 2, GA 2): " + worst, worst <= 1e-5);
    }

    /**
     * Ranks started by an external launcher (torchrun, Slurm, a Kubernetes Job) join from
     * torchrun's environment alone, without --nproc-per-node: the same weights as one process.
     */
    @Test
    public void ranksStartedFromTheEnvironmentTrainAsOneProcess() throws Exception {
        Path dir = Files.createTempDirectory("attune-dp-env");
        String r = recipe(dir, "lora", "lora: {r: 4, lora_alpha: 8, lora_dropout: 0.1}");
        LauncherIT.Result single = LauncherIT.attuneIn(REPO, "train", r, "--set", "output=" + dir.resolve("single"));
        assertEquals(single.err(), 0, single.code());
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        List<Process> ranks = new ArrayList<>();
        List<Path> errs = new ArrayList<>();
        for (int rank = 0; rank < 2; rank++) {
            Map<String, String> env = Map.of("RANK", "" + rank, "WORLD_SIZE", "2", "LOCAL_RANK", "" + rank, "LOCAL_WORLD_SIZE", "2",
                    "MASTER_ADDR", "127.0.0.1", "MASTER_PORT", "" + port);
            Path err = Files.createTempFile(dir, "rank" + rank, ".err");
            errs.add(err);
            ranks.add(LauncherIT.start(REPO, env, Files.createTempFile(dir, "rank" + rank, ".out"), err, "train", r,
                    "--set", "output=" + dir.resolve("env"), "--set", "train.gradient_accumulation_steps=1"));
        }
        for (int rank = 0; rank < 2; rank++) {
            assertTrue("rank " + rank + " finished", ranks.get(rank).waitFor(300, TimeUnit.SECONDS));
            assertEquals(Files.readString(errs.get(rank)), 0, ranks.get(rank).exitValue());
        }
        assertSameWeights(dir.resolve("single/final/adapter_model.safetensors"), dir.resolve("env/final/adapter_model.safetensors"));
    }

    /**
     * kill -9 of rank 1 in the middle of a run: rank 0's collective fails within the timeout, the
     * launcher exits 1 with one line naming rank 1 and how it ended, no final model is written and
     * no rank is left running.
     */
    @Test
    public void killingRankOneMidRunStopsTheRunWithItsReason() throws Exception {
        Path dir = Files.createTempDirectory("attune-dp-kill");
        Path out = dir.resolve("run");
        Path stdout = dir.resolve("launcher.out");
        Path stderr = dir.resolve("launcher.err");
        Process launcher = LauncherIT.start(REPO, stdout, stderr, "train", recipe(dir, "lora", "lora: {r: 4}"), "--set", "output=" + out,
                "--set", "train.gradient_accumulation_steps=1", "--set", "train.max_steps=100000", "--nproc-per-node", "2");
        try {
            Path events = out.resolve("events.jsonl");
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
            while (!(Files.exists(events) && Files.readString(events).contains("\"type\":\"step\""))) {
                assertTrue("the ranks took a step: " + Files.readString(stderr), launcher.isAlive() && System.nanoTime() < deadline);
                Thread.sleep(100);
            }
            List<ProcessHandle> ranks = launcher.toHandle().descendants().toList();
            ProcessHandle rank1 = ranks.stream().filter(p -> environment(p).contains("\0RANK=1\0")).findFirst()
                    .orElseThrow(() -> new AssertionError("no process with RANK=1 under the launcher"));
            long killed = System.nanoTime();
            new ProcessBuilder("kill", "-9", Long.toString(rank1.pid())).inheritIO().start().waitFor();
            assertTrue("the launcher ends within the 60 s timeout", launcher.waitFor(90, TimeUnit.SECONDS));
            double seconds = (System.nanoTime() - killed) / 1e9;
            String err = Files.readString(stderr);
            assertEquals(err, 1, launcher.exitValue());
            List<String> lines = err.lines().filter(l -> l.startsWith("attune")).toList();
            assertEquals(err, List.of("attune: rank 1: killed by signal 9 (SIGKILL: killed from outside, e.g. kill -9 or the out-of-memory killer)"),
                    lines);
            assertFalse(err, err.contains("\tat "));
            assertTrue("within the timeout: " + seconds, seconds < 60);
            assertFalse("no final model", Files.exists(out.resolve("final")));
            assertTrue("no rank is left running", ranks.stream().noneMatch(ProcessHandle::isAlive));
        } finally {
            launcher.toHandle().descendants().forEach(ProcessHandle::destroyForcibly);
            launcher.destroyForcibly();
        }
    }

    /** A process's environment as /proc shows it, NUL-separated with a NUL in front; empty if unreadable. */
    private static String environment(ProcessHandle p) {
        try {
            return "\0" + new String(Files.readAllBytes(Path.of("/proc", Long.toString(p.pid()), "environ")), java.nio.charset.StandardCharsets.UTF_8);
        } catch (java.io.IOException e) {
            return "";
        }
    }

    private static double[] losses(Path events) throws Exception {
        return Files.readAllLines(events).stream().filter(l -> l.contains("\"type\":\"step\""))
                .mapToDouble(l -> Double.parseDouble(l.replaceAll(".*\"loss\":([-0-9.Ee]+).*", "$1"))).toArray();
    }

    @Test
    public void loraWithDropoutOnTwoRanksEqualsOneProcess() throws Exception {
        sameAsOneProcess("lora", "lora: {r: 4, lora_alpha: 8, lora_dropout: 0.1, target_modules: all-linear}", "adapter_model.safetensors");
    }

    @Test
    public void fullFineTuningOnTwoRanksEqualsOneProcess() throws Exception {
        sameAsOneProcess("full", "", "model.safetensors");
    }

    /**
     * A two-rank run's checkpoint holds the global data cursor (2 steps of 2 ranks x 2 sequences: 8),
     * and resumes in one process: the run continues from it to its end, each step recorded once.
     */
    @Test
    public void aTwoRankCheckpointResumesInOneProcess() throws Exception {
        Path dir = Files.createTempDirectory("attune-dp-resume");
        Path run = dir.resolve("run");
        LauncherIT.Result two = LauncherIT.attuneIn(REPO, "train", recipe(dir, "lora", "lora: {r: 4}"), "--set", "output=" + run,
                "--set", "train.gradient_accumulation_steps=1", "--set", "train.save_every=2", "--nproc-per-node", "2");
        assertEquals(two.err(), 0, two.code());
        String state = Files.readString(run.resolve("checkpoint-2/trainer_state.json"));
        assertTrue(state, state.replaceAll("\\s", "").contains("\"cursor\":8"));
        // As if it had stopped after step 2: the steps after the checkpoint and the final adapter are gone.
        ai.attune.api.io.AtomicDirectory.deleteTree(run.resolve("final"));
        LauncherIT.Result resumed = LauncherIT.attuneIn(REPO, "train", "--resume", run.toString());
        assertEquals(resumed.err(), 0, resumed.code());
        assertTrue(Files.isRegularFile(run.resolve("final/adapter_model.safetensors")));
        List<String> steps = Files.readAllLines(run.resolve("events.jsonl")).stream().filter(l -> l.contains("\"type\":\"step\""))
                .map(l -> l.replaceAll(".*\"step\":(\\d+).*", "$1")).toList();
        assertEquals(List.of("1", "2", "3", "4"), steps);
    }

    @Test
    public void aMalformedLineStopsEveryRankWithOneLine() throws Exception {
        Path dir = Files.createTempDirectory("attune-dp-bad");
        StringBuilder data = new StringBuilder();
        for (int i = 0; i < 12; i++) {
            data.append(i == 5 ? "{\"text\": \"cut short" : "{\"text\": \"Call me Ishmael. Some years ago, never mind how long precisely.\"}").append('\n');
        }
        Path bad = Files.writeString(dir.resolve("bad.jsonl"), data);
        Path out = dir.resolve("run");
        long t0 = System.nanoTime();
        LauncherIT.Result r = LauncherIT.attuneIn(REPO, "train", recipe(dir, "lora", "lora: {r: 4}"), "--set", "data.path=" + bad,
                "--set", "output=" + out, "--set", "train.gradient_accumulation_steps=1", "--nproc-per-node", "2");
        double seconds = (System.nanoTime() - t0) / 1e9;
        assertEquals(r.err(), 1, r.code());
        List<String> lines = r.err().lines().filter(l -> !l.startsWith("WARNING: Using incubator modules")).toList();
        assertEquals(r.err(), 1, lines.size());
        assertTrue(lines.getFirst(), lines.getFirst().matches("attune: rank [01]: bad\\.jsonl:6: not valid JSON: .*"));
        assertTrue("well within the 60 s timeout: " + seconds, seconds < 60);
        assertFalse("no run directory", Files.exists(out));
        assertTrue("no rank is left running", ProcessHandle.allProcesses().noneMatch(p -> p.info().arguments()
                .map(a -> String.join(" ", a).contains(out.toString())).orElse(false)));
    }
}
