package ai.attune.api.tensor;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.DoubleAdder;
import java.util.concurrent.atomic.LongAdder;

/**
 * A per-op profile of the backend kernels: calls, self time, FLOPs and bytes allocated per op name,
 * torch.profiler's {@code key_averages()} table. Backends open an {@link Op} around each kernel
 * ({@code try (OpProfile.Op op = OpProfile.op("aten::mm", flops)) { ... }}); {@link KernelOps} has
 * the names and FLOP counts they share.
 *
 * <p>Off unless {@link #start()}ed: then {@link #op} is one read of a volatile field and returns a
 * shared no-op, so the kernels pay one branch. The recording is process-wide, as a profiler is
 * (there is one machine to measure); ops are timed on the thread that issues them, which for the
 * training loop is the one thread that calls the backend, while a kernel's own worker threads are
 * inside its time.
 *
 * <p>Nested ops (a kernel that calls another backend method) keep a per-thread stack: an op's self
 * time excludes the ops it opened, as torch.profiler's "Self CPU", so the rows sum to the time
 * spent in kernels. Storage that a {@link Scope} allocates while an op is open on the thread is
 * counted to the innermost one; allocations outside any op are counted apart.
 */
public final class OpProfile {
    /** The recording in progress, or null: the one branch an op costs when profiling is off. */
    private static volatile Recording active;
    private static final ThreadLocal<Frame[]> INNERMOST = ThreadLocal.withInitial(() -> new Frame[1]);
    private static final Op NONE = () -> { };
    private static final Comparator<Row> BY_SELF_TIME = Comparator.comparingLong(Row::selfNanos).reversed().thenComparing(Row::name);

    private OpProfile() {}

    /** An open op: closing it records its time. */
    @FunctionalInterface
    public interface Op extends AutoCloseable {
        @Override
        void close();
    }

    /** One op name's totals; flops is 0 where the op does not count them. */
    public record Row(String name, long calls, long selfNanos, long totalNanos, double flops, long bytesAllocated) {}

    /**
     * What a recording saw: rows by self time, descending; the wall time between start and stop; and
     * the bytes allocated while no op was open (by autograd and the model between kernels).
     */
    public record Snapshot(List<Row> rows, long wallNanos, long bytesOutsideOps) {
        /** The sum of every row's self time: the time spent inside kernels. */
        public long selfNanos() {
            return rows.stream().mapToLong(Row::selfNanos).sum();
        }

        /** This snapshot and {@code other} as one: recordings of separate windows (a run's steps, not its evals) summed by op name. */
        public Snapshot plus(Snapshot other) {
            java.util.Map<String, Row> sum = new java.util.HashMap<>();
            for (Row r : rows) {
                sum.put(r.name(), r);
            }
            for (Row r : other.rows) {
                sum.merge(r.name(), r, (a, b) -> new Row(a.name(), a.calls() + b.calls(), a.selfNanos() + b.selfNanos(),
                        a.totalNanos() + b.totalNanos(), a.flops() + b.flops(), a.bytesAllocated() + b.bytesAllocated()));
            }
            List<Row> merged = new ArrayList<>(sum.values());
            merged.sort(BY_SELF_TIME);
            return new Snapshot(List.copyOf(merged), wallNanos + other.wallNanos, bytesOutsideOps + other.bytesOutsideOps);
        }
    }

    /** Starts recording; refuses when a recording is already running, since two would share the ops. */
    public static synchronized void start() {
        if (active != null) {
            throw new IllegalStateException("an op profile is already recording; stop it first");
        }
        active = new Recording(System.nanoTime());
    }

    /** Starts recording unless one is running (another job's, in a server): then false, and that one goes on. */
    public static synchronized boolean tryStart() {
        if (active != null) {
            return false;
        }
        active = new Recording(System.nanoTime());
        return true;
    }

    /** Stops recording and returns what it saw; an empty snapshot when none was running. */
    public static synchronized Snapshot stop() {
        Recording r = active;
        active = null;
        return r == null ? new Snapshot(List.of(), 0, 0) : r.snapshot(System.nanoTime());
    }

    /** Whether a recording is running. */
    public static boolean recording() {
        return active != null;
    }

    /** Opens an op named {@code name}; close it when the kernel returns. */
    public static Op op(String name) {
        return op(name, 0);
    }

    /** Opens an op named {@code name} that does {@code flops} floating-point operations. */
    public static Op op(String name, double flops) {
        Recording r = active;
        if (r == null) {
            return NONE;
        }
        Frame[] top = INNERMOST.get();
        Frame f = new Frame(r, name, flops, top[0], top);
        top[0] = f;
        f.start = System.nanoTime();
        return f;
    }

    /** Counts {@code bytes} of storage to the innermost open op of this thread, or to the bytes outside ops. */
    static void allocated(long bytes) {
        Recording r = active;
        if (r == null) {
            return;
        }
        Frame f = INNERMOST.get()[0];
        if (f != null && f.recording == r) {
            f.bytes += bytes;
        } else {
            r.bytesOutsideOps.add(bytes);
        }
    }

    /** An open op on one thread's stack; {@code children} is the time of the ops it opened. */
    private static final class Frame implements Op {
        final Recording recording;
        final String name;
        final double flops;
        final Frame parent;
        final Frame[] top;
        long start;
        long children;
        long bytes;

        Frame(Recording recording, String name, double flops, Frame parent, Frame[] top) {
            this.recording = recording;
            this.name = name;
            this.flops = flops;
            this.parent = parent;
            this.top = top;
        }

        @Override
        public void close() {
            long total = System.nanoTime() - start;
            top[0] = parent;
            if (parent != null) {
                parent.children += total;
            }
            recording.add(name, total - children, total, flops, bytes);
        }
    }

    /** Totals per op name, added to from any thread. */
    private static final class Recording {
        final long started;
        final ConcurrentHashMap<String, Totals> byName = new ConcurrentHashMap<>();
        final LongAdder bytesOutsideOps = new LongAdder();

        Recording(long started) {
            this.started = started;
        }

        void add(String name, long self, long total, double flops, long bytes) {
            Totals t = byName.computeIfAbsent(name, k -> new Totals());
            t.calls.increment();
            t.self.add(self);
            t.total.add(total);
            t.bytes.add(bytes);
            if (flops > 0) {
                t.flops.add(flops);
            }
        }

        Snapshot snapshot(long stopped) {
            List<Row> rows = new ArrayList<>();
            byName.forEach((name, t) -> rows.add(new Row(name, t.calls.sum(), t.self.sum(), t.total.sum(), t.flops.sum(), t.bytes.sum())));
            rows.sort(BY_SELF_TIME);
            return new Snapshot(List.copyOf(rows), stopped - started, bytesOutsideOps.sum());
        }
    }

    /** One name's sums, added to from any thread without a lock; FLOPs as a double, as a long would overflow over a long run. */
    private static final class Totals {
        final LongAdder calls = new LongAdder();
        final LongAdder self = new LongAdder();
        final LongAdder total = new LongAdder();
        final LongAdder bytes = new LongAdder();
        final DoubleAdder flops = new DoubleAdder();
    }
}
