package ai.attune.runtime.fuzz;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Runs one parser's fuzz rounds. Each round gets its own {@link Random} from the campaign seed and
 * the round number (so {@code -Dfuzz.replay=N} reruns round N alone), writes its input into a fresh
 * directory and runs the parse on a worker thread under a time bound and a heap budget. A round
 * must end accepted or refused with one of the project's error types whose message is one line
 * naming the input; a refused round must leave its directory as it was. Anything else is a crash:
 * the input is kept under {@code target/fuzz-failures/} and the round number is printed.
 *
 * <p>{@code -Dfuzz.rounds=N} sets the number of rounds (the long campaign uses 10,000);
 * {@code -Dfuzz.trace=true} prints each round before it runs, for a case that kills the JVM, and
 * {@code -Dfuzz.from=N} continues a campaign from round N.
 */
public final class FuzzCampaign implements AutoCloseable {
    /** What one round parses. Returning normally means the input was accepted. */
    public interface Body {
        void run() throws Exception;
    }

    /**
     * One prepared round: the input files (for the failure report), the names a clean error must
     * mention (the file name, or {@code --set} for an override), and the parse.
     */
    public record Case(List<Path> inputs, List<String> names, Body body) {
        public Case(Path input, Body body) {
            this(List.of(input), List.of(input.getFileName().toString()), body);
        }
    }

    /** Builds round {@code round}'s case in {@code dir} (empty, the round's own) from its mutator. */
    public interface Round {
        Case prepare(Mutator mutator, Path dir) throws Exception;
    }

    /** What a campaign found. */
    public record Totals(String parser, int cases, int accepted, int refused, int crashes, long maxMillis, int slowestRound) {
        @Override
        public String toString() {
            return String.format("fuzz %-24s %6d cases %6d accepted %6d refused %d crashes, max case %d ms (round %d)",
                    parser, cases, accepted, refused, crashes, maxMillis, slowestRound);
        }
    }

    private static final long TIMEOUT_MS = Long.getLong("fuzz.caseTimeoutMs", 10_000);
    private static final long HEAP_BUDGET = Long.getLong("fuzz.heapBudget", 1L << 30);
    private static final boolean TRACE = Boolean.getBoolean("fuzz.trace");
    private static final int FROM = Integer.getInteger("fuzz.from", 0);

    private final String parser;
    private final long seed;
    private final Path root;
    private final List<Class<? extends Throwable>> clean;
    private int maxString = 2_000_000;
    private ExecutorService worker;

    /**
     * @param clean the exception types a refusal may use (the project's own, which the commands
     *              print as {@code attune: <message>})
     */
    @SafeVarargs
    public FuzzCampaign(String parser, long seed, Path root, Class<? extends Throwable>... clean) {
        this.parser = parser;
        this.seed = seed;
        this.root = root;
        this.clean = List.of(clean);
        try {
            Files.createDirectories(root);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        this.worker = newWorker();
    }

    /** Caps the strings the mutators write, for a parser whose work per character is large (a tokenizer). */
    public FuzzCampaign maxString(int chars) {
        this.maxString = chars;
        return this;
    }

    /** {@code -Dfuzz.rounds}, else the fast default. */
    public static int rounds(int fastDefault) {
        return Integer.getInteger("fuzz.rounds", fastDefault);
    }

    /** Runs the rounds and fails with every distinct crash found; returns the totals, also printed. */
    public Totals run(int rounds, Round round) throws IOException {
        // -Dfuzz.replay=N (or N,M,...) reruns those rounds alone.
        Set<Integer> replay = System.getProperty("fuzz.replay") == null ? null
                : Arrays.stream(System.getProperty("fuzz.replay").split(",")).map(String::strip).map(Integer::valueOf).collect(Collectors.toSet());
        int accepted = 0;
        int refused = 0;
        long maxMillis = 0;
        int slowest = -1;
        Map<String, String> crashes = new LinkedHashMap<>();
        int crashCount = 0;
        for (int n = 0; n < rounds; n++) {
            if (replay != null && !replay.contains(n) || n < FROM) {
                continue;
            }
            Path dir = Files.createDirectories(root.resolve("round-" + n));
            Mutator mutator = new Mutator(new Random(seed * 0x9E3779B97F4A7C15L + n), maxString);
            Case c;
            try {
                c = round.prepare(mutator, dir);
            } catch (Exception e) {
                throw new IllegalStateException(parser + " round " + n + ": the fuzz test failed to build its input", e);
            }
            if (TRACE) {
                System.out.println(parser + " round " + n); // the last one printed names a case that killed the JVM
                System.out.flush();
            }
            Outcome o = outcome(c);
            long ms = o.millis();
            String problem = o.problem();
            boolean wasAccepted = o.accepted();
            if (ms > maxMillis) {
                maxMillis = ms;
                slowest = n;
            }
            if (problem == null) {
                if (wasAccepted) {
                    accepted++;
                } else {
                    refused++;
                }
            } else {
                crashCount++;
                String kept = keep(n, c.inputs());
                // Crashes of one kind differ only in numbers and excerpts: keep the first of each.
                String key = problem.replaceAll("\\d+", "#");
                key = key.length() > 70 ? key.substring(0, 70) : key;
                crashes.putIfAbsent(key, "round " + n + " (replay: -Dfuzz.replay=" + n + "; input kept in " + kept + "): " + problem);
                if (crashes.size() >= 30) {
                    break;
                }
            }
            if (replay != null) {
                System.out.println(parser + " round " + n + ": input kept in " + keep(n, c.inputs()) + ", " + ms + " ms, "
                        + (problem != null ? problem : wasAccepted ? "accepted" : "refused"));
            }
            deleteTree(dir);
        }
        Totals totals = new Totals(parser, accepted + refused + crashCount, accepted, refused, crashCount, maxMillis, slowest);
        System.out.println(totals);
        if (!crashes.isEmpty()) {
            fail(totals + "\n  " + String.join("\n  ", crashes.values()));
        }
        return totals;
    }

    /**
     * Runs one hand-written case (a kept regression) under the same checks as a round; returns the
     * refusal's message, or null when the input was accepted.
     */
    public String check(Case c) {
        Outcome o = outcome(c);
        if (o.problem() != null) {
            fail(parser + ": " + o.problem());
        }
        return o.message();
    }

    /** How a case ended: accepted, refused with {@code message}, or a {@code problem}. */
    private record Outcome(boolean accepted, String message, String problem, long millis) {}

    private Outcome outcome(Case c) {
        Map<String, Long> before = snapshot();
        long t0 = System.nanoTime();
        String problem = null;
        String message = null;
        boolean accepted = false;
        try {
            long heap = runBounded(c.body());
            accepted = true;
            if (heap > HEAP_BUDGET) {
                problem = "allocated " + (heap >> 20) + " MiB of heap";
            }
        } catch (TimeoutException e) {
            problem = "no answer within " + TIMEOUT_MS + " ms";
            worker.shutdownNow();
            worker = newWorker(); // the stuck thread is abandoned (daemon)
        } catch (ExecutionException e) {
            message = e.getCause().getMessage();
            problem = refusal(e.getCause(), c.names());
            if (problem == null && !before.equals(snapshot())) {
                problem = "refused, but wrote " + diff(before, snapshot());
            }
        }
        return new Outcome(accepted, message, problem, (System.nanoTime() - t0) / 1_000_000);
    }

    /**
     * Both outcomes must be common, or the mutations are too weak (or too strong) to mean much.
     * Skipped when a single round is replayed.
     */
    public static void assertBothOutcomes(Totals t, double minAcceptedShare, double minRefusedShare) {
        if (System.getProperty("fuzz.replay") != null) {
            return;
        }
        assertTrue(t.accepted() >= minAcceptedShare * t.cases(), t + ": too few accepted");
        assertTrue(t.refused() >= minRefusedShare * t.cases(), t + ": too few refused");
    }

    /** Runs the body on the worker; returns the heap it allocated. */
    private long runBounded(Body body) throws TimeoutException, ExecutionException {
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        Future<Long> f = worker.submit(() -> {
            long id = Thread.currentThread().threadId();
            long a0 = threads.getThreadAllocatedBytes(id);
            body.run();
            return threads.getThreadAllocatedBytes(id) - a0;
        });
        try {
            return f.get(TIMEOUT_MS, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        } catch (TimeoutException e) {
            f.cancel(true);
            throw e;
        }
    }

    /** Null when {@code t} is a clean refusal; else what is wrong with it. */
    private String refusal(Throwable t, List<String> names) {
        if (clean.stream().noneMatch(k -> k.isInstance(t))) {
            return "unexpected " + abbreviate(String.valueOf(t)) + " at " + where(t);
        }
        String m = t.getMessage();
        if (m == null || m.isBlank()) {
            return t.getClass().getSimpleName() + " without a message at " + where(t);
        }
        if (m.contains("\n") || m.contains("\r")) {
            return t.getClass().getSimpleName() + " message is not one line: " + abbreviate(m);
        }
        if (names.stream().noneMatch(m::contains)) {
            return t.getClass().getSimpleName() + " message does not name " + names + ": " + abbreviate(m);
        }
        return null;
    }

    /** The throwing frames, and the first of Attune's own below them (a library's internals alone do not say who called). */
    private static String where(Throwable t) {
        StackTraceElement[] st = t.getStackTrace();
        StringBuilder b = new StringBuilder();
        boolean ours = false;
        for (int i = 0; i < st.length && !ours; i++) {
            ours = st[i].getClassName().startsWith("ai.attune.");
            if (i < 4 || ours) {
                b.append(i == 0 ? "" : i < 4 ? " < " : " < ... < ").append(st[i].getClassName().replaceAll(".*\\.", "")).append('.')
                        .append(st[i].getMethodName()).append(':').append(st[i].getLineNumber());
            }
        }
        Throwable cause = t.getCause();
        return cause == null || cause == t ? b.toString() : b + " (cause " + abbreviate(String.valueOf(cause)) + ")";
    }

    private static String abbreviate(String s) {
        String one = s.replace("\n", "\\n").replace("\r", "\\r");
        return one.length() > 300 ? one.substring(0, 300) + "..." : one;
    }

    /** Every file under the campaign root, with its size: what a refused case must leave alone. */
    private Map<String, Long> snapshot() {
        Map<String, Long> out = new TreeMap<>();
        try (Stream<Path> s = Files.walk(root)) {
            s.forEach(p -> {
                try {
                    out.put(root.relativize(p).toString(), Files.isDirectory(p) ? -1 : Files.size(p));
                } catch (IOException e) {
                    out.put(root.relativize(p).toString(), -2L);
                }
            });
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out;
    }

    private static String diff(Map<String, Long> before, Map<String, Long> after) {
        List<String> changed = new ArrayList<>();
        after.forEach((k, v) -> {
            if (!v.equals(before.get(k))) {
                changed.add(k);
            }
        });
        return changed.toString();
    }

    private String keep(int round, List<Path> inputs) {
        Path out = Path.of("target", "fuzz-failures", parser + "-" + round);
        try {
            Files.createDirectories(out);
            for (Path p : inputs) {
                if (Files.isRegularFile(p)) {
                    Files.copy(p, out.resolve(p.getFileName()), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                }
            }
        } catch (IOException e) {
            return "(not kept: " + e.getMessage() + ")";
        }
        return out.toString();
    }

    private static void deleteTree(Path dir) throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    /**
     * The worker has the JVM's default 1 MiB stack, as the launcher's and the lab server's threads
     * do (surefire's -Xss4m would hide a recursion that overflows there).
     */
    private ExecutorService newWorker() {
        return Executors.newSingleThreadExecutor(task -> Thread.ofPlatform().name("fuzz-" + parser).daemon(true).stackSize(1 << 20).unstarted(task));
    }

    @Override
    public void close() {
        worker.shutdownNow();
    }
}
