package ai.attune.runtime.dist;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * torchrun for {@code attune train}: starts this node's ranks as processes of the distribution's
 * own launcher, each with torchrun's environment ({@code RANK}, {@code WORLD_SIZE},
 * {@code LOCAL_RANK}, {@code LOCAL_WORLD_SIZE}, {@code GROUP_RANK}, {@code MASTER_ADDR},
 * {@code MASTER_PORT}) and its share of the cores, and watches them. Global rank 0's standard
 * output is the command's; its log lines pass through. When a rank fails, the others are stopped
 * (a rank whose group broke exits with {@value #PEER_FAILED}, and is not the cause), and the
 * command fails with one line: the failing rank and its own message.
 */
public final class RankLauncher implements AutoCloseable {
    /** The exit code of a rank whose collective failed because another rank did (or a timeout). */
    public static final int PEER_FAILED = 3;
    /** After a first failure, how long the other ranks get to report their own before they are stopped. */
    private static final long GRACE_MILLIS = 3_000;

    /** What the ranks run, and where they meet. */
    public record Plan(int nprocPerNode, int nnodes, int nodeRank, String masterAddr, int masterPort, int threadsPerRank, List<String> rankArgs) {}

    private final Plan plan;
    private final PrintWriter err;

    private final List<Rank> ranks = new ArrayList<>();
    private Thread stopOnExit;

    public RankLauncher(Plan plan, PrintWriter err) {
        this.plan = plan;
        this.err = err;
    }

    /** A free TCP port on this host for a one-node rendezvous, as torchrun's {@code --standalone} picks one. */
    public static int freePort(String addr) {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName(addr))) {
            return s.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException("no free port on " + addr + " for the rendezvous: " + e.getMessage(), e);
        }
    }

    /** Runs the node's ranks to their end; throws with one line naming the rank that failed first. */
    public void run() {
        try {
            startFrom(0);
            Failure failure = watch(ranks);
            if (failure != null) {
                throw new IllegalStateException("rank " + failure.rank() + ": " + failure.line());
            }
        } finally {
            close();
        }
    }

    /**
     * Starts the node's ranks from local rank 1 on, for a process that is rank 0 itself (the lab
     * server runs a data-parallel job's rank 0 in its own process).
     */
    public void startFollowers() {
        startFrom(1);
    }

    /**
     * The first rank to have failed on its own, as "rank R: its message", waiting up to
     * {@code millis} for one to exit; null if none did. A rank 0 whose collective failed asks it
     * for the cause.
     */
    public String failure(long millis) {
        long deadline = System.currentTimeMillis() + millis;
        do {
            for (Rank r : ranks) {
                if (!r.process.isAlive() && r.process.exitValue() != 0 && r.process.exitValue() != PEER_FAILED) {
                    r.join();
                    return "rank " + r.rank + ": " + message(r.last, r.process.exitValue());
                }
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return null;
            }
        } while (System.currentTimeMillis() < deadline);
        return null;
    }

    private void startFrom(int firstLocal) {
        String home = System.getProperty("attune.home");
        if (home == null || !Files.isExecutable(Path.of(home, "bin", "attune"))) {
            throw new IllegalStateException("data-parallel ranks start with the distribution's bin/attune, which this process was not "
                    + "started from; run the distribution's launcher");
        }
        Path launcher = Path.of(home, "bin", "attune");
        int world = plan.nprocPerNode() * plan.nnodes();
        stopOnExit = new Thread(() -> ranks.forEach(r -> r.process.destroyForcibly()));
        Runtime.getRuntime().addShutdownHook(stopOnExit);
        for (int local = firstLocal; local < plan.nprocPerNode(); local++) {
            int rank = plan.nodeRank() * plan.nprocPerNode() + local;
            ranks.add(start(launcher, rank, local, world));
        }
    }

    /** Stops every rank still running and waits for them. */
    @Override
    public void close() {
        ranks.forEach(r -> r.process.destroyForcibly());
        ranks.forEach(Rank::join);
        if (stopOnExit != null) {
            try {
                Runtime.getRuntime().removeShutdownHook(stopOnExit);
            } catch (IllegalStateException e) {
                // the JVM is shutting down and runs the hook itself
            }
            stopOnExit = null;
        }
    }

    /** One rank: its process and the reader of its log. */
    private final class Rank {
        final int rank;
        final Process process;
        final Thread reader;
        volatile String last = "";

        Rank(int rank, Process process) {
            this.rank = rank;
            this.process = process;
            this.reader = Thread.ofPlatform().daemon().name("rank-" + rank + "-log").start(this::read);
        }

        /**
         * Rank 0's log lines pass through one line behind, so that its last line (the error, if it
         * fails) is held back and reported once, by the launcher; other ranks' lines are only kept.
         */
        private void read() {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(process.getErrorStream(), StandardCharsets.UTF_8))) {
                String held = null;
                for (String line; (line = in.readLine()) != null; ) {
                    if (line.startsWith("WARNING: Using incubator modules")) {
                        continue; // the JVM's notice, which the launcher's own JVM printed already
                    }
                    if (held != null && rank == 0) {
                        synchronized (err) {
                            err.println(held);
                            err.flush();
                        }
                    }
                    held = line;
                    if (!line.isBlank()) {
                        last = line;
                    }
                }
                if (held != null && rank == 0 && process.waitFor() == 0) {
                    synchronized (err) {
                        err.println(held);
                        err.flush();
                    }
                }
            } catch (IOException e) {
                // the process is gone; its last line is what was read
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        void join() {
            try {
                process.waitFor(10, TimeUnit.SECONDS);
                reader.join(5_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private Rank start(Path launcher, int rank, int local, int world) {
        List<String> cmd = new ArrayList<>(List.of(launcher.toString()));
        cmd.addAll(plan.rankArgs());
        ProcessBuilder pb = new ProcessBuilder(cmd);
        Map<String, String> env = pb.environment();
        env.put("RANK", Integer.toString(rank));
        env.put("WORLD_SIZE", Integer.toString(world));
        env.put("LOCAL_RANK", Integer.toString(local));
        env.put("LOCAL_WORLD_SIZE", Integer.toString(plan.nprocPerNode()));
        env.put("GROUP_RANK", Integer.toString(plan.nodeRank()));
        env.put("MASTER_ADDR", plan.masterAddr());
        env.put("MASTER_PORT", Integer.toString(plan.masterPort()));
        // Each rank computes on its share of the cores: the JVM's kernels size their pools by the processors it reports.
        env.put("ATTUNE_OPTS", (env.getOrDefault("ATTUNE_OPTS", "") + " -XX:ActiveProcessorCount=" + plan.threadsPerRank()).strip());
        env.put("OMP_NUM_THREADS", Integer.toString(plan.threadsPerRank()));
        env.putIfAbsent("TORCH_CPP_LOG_LEVEL", "ERROR"); // c10d's own warnings carry C++ backtraces; a failure is reported in one line
        pb.redirectOutput(rank == 0 ? ProcessBuilder.Redirect.INHERIT : ProcessBuilder.Redirect.DISCARD);
        try {
            return new Rank(rank, pb.start());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start rank " + rank + " with " + launcher + ": " + e.getMessage(), e);
        }
    }

    /** A rank's failure: its number, exit code and last line. */
    private record Failure(int rank, int code, String line) {}

    /**
     * Waits for every rank. The first non-zero exit starts a grace period in which the others may
     * report their own failure; the cause is then a rank that failed on its own (not
     * {@value #PEER_FAILED}), the earliest such, else the earliest of all. Null when all succeeded.
     */
    private Failure watch(List<Rank> ranks) {
        List<Failure> failures = new ArrayList<>();
        long firstFailure = -1;
        while (true) {
            boolean alive = false;
            for (Rank r : ranks) {
                if (r.process.isAlive()) {
                    alive = true;
                } else if (r.process.exitValue() != 0 && failures.stream().noneMatch(f -> f.rank() == r.rank)) {
                    try {
                        r.reader.join(2_000); // its last line
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                    failures.add(new Failure(r.rank, r.process.exitValue(), message(r.last, r.process.exitValue())));
                    if (firstFailure < 0) {
                        firstFailure = System.currentTimeMillis();
                    }
                }
            }
            boolean graceOver = firstFailure >= 0 && System.currentTimeMillis() - firstFailure > GRACE_MILLIS;
            if (!alive || graceOver || failures.stream().anyMatch(f -> f.code() != PEER_FAILED)) {
                if (failures.isEmpty()) {
                    return null;
                }
                return failures.stream().filter(f -> f.code() != PEER_FAILED).findFirst().orElse(failures.getFirst());
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while ranks ran");
            }
        }
    }

    /**
     * Why a rank ended: a signal, when it was killed (exit code 128 + signal, as the JVM and a shell
     * report it; whatever it printed last was not its reason), else its last line without the
     * launcher's own prefix, else its exit code.
     */
    static String message(String last, int code) {
        if (code > 128 && code < 128 + 65) {
            return "killed by signal " + (code - 128) + signalName(code - 128);
        }
        String m = last.startsWith("attune: ") ? last.substring("attune: ".length()) : last;
        return m.isBlank() ? "exited with code " + code + " and no message" : m;
    }

    private static String signalName(int signal) {
        return switch (signal) {
            case 9 -> " (SIGKILL: killed from outside, e.g. kill -9 or the out-of-memory killer)";
            case 15 -> " (SIGTERM)";
            case 6 -> " (SIGABRT)";
            case 11 -> " (SIGSEGV)";
            default -> "";
        };
    }
}
