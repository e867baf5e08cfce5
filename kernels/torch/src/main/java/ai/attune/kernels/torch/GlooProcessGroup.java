package ai.attune.kernels.torch;

import ai.attune.api.dist.CollectiveException;
import ai.attune.api.dist.ProcessGroup;
import ai.attune.api.dist.Rendezvous;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.javacpp.SizeTPointer;
import org.bytedeco.javacpp.chrono.Milliseconds;
import org.bytedeco.pytorch.AllreduceOptions;
import org.bytedeco.pytorch.BarrierOptions;
import org.bytedeco.pytorch.BroadcastOptions;
import org.bytedeco.pytorch.PrefixStore;
import org.bytedeco.pytorch.ProcessGroupGloo;
import org.bytedeco.pytorch.ReduceOp;
import org.bytedeco.pytorch.TCPStore;
import org.bytedeco.pytorch.TCPStoreOptions;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.Work;
import org.bytedeco.pytorch.gloo.Device;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.time.Duration;
import java.util.List;
import java.util.function.Supplier;
import java.util.regex.Pattern;

/**
 * One rank's membership in a c10d Gloo group, built as {@code torch.distributed} builds it:
 * <ol>
 *   <li>a TCPStore at the master address and port, served by rank 0, which waits until every rank
 *       has connected;</li>
 *   <li>a PrefixStore {@code default_pg/gloo} over it, so the keys are torch's;</li>
 *   <li>a {@code ProcessGroupGloo} on that store, whose constructor connects every pair of ranks.</li>
 * </ol>
 * The rendezvous timeout is the TCPStore's and the group's timeout, so every collective fails
 * within it when a peer stops answering.
 *
 * <p>Collectives view Java memory as ATen tensors ({@code from_blob}, as {@link Aten#view} does):
 * Gloo reduces in place, with no copy on either side.
 *
 * <p>Native lifetimes. The two stores are made with {@code new} and handed to c10d as intrusive
 * pointers, which JavaCPP's adapter steals without taking a reference, so JavaCPP's own deallocator
 * must never run while the group lives: they are pinned ({@code deallocate(false)}), held here, and
 * deleted explicitly on {@link #close()}, innermost holder first (group, prefix store, TCPStore).
 * Everything else made here lives in a {@link PointerScope} of its call, or, when kept, holds a
 * reference of its own.
 */
final class GlooProcessGroup implements ProcessGroup {
    /** How long one native wait blocks before the Java side looks at its deadline and its interrupt status again. */
    private static final long WAIT_SLICE_MS = 500;
    /** A source position c10d and Gloo put before their message: {@code [/path/to/pair.cc:553] }. */
    private static final Pattern SOURCE_POSITION = Pattern.compile("^\\[[^\\]\\s]+:\\d+\\]\\s*");

    private final int rank;
    private final int worldSize;
    private final Duration timeout;
    private final TCPStore store;
    private final PrefixStore groupStore;
    private final ProcessGroupGloo gloo;
    private final AllreduceOptions sum;
    /** Owns the scratch memory of the blocking collectives: freed after the group, never under a running one. */
    private final Arena arena = Arena.ofShared();
    private MemorySegment scalars = MemorySegment.NULL;
    /** The first failure, once there was one: the group is then unusable. */
    private volatile String failure;
    private boolean closed;

    private GlooProcessGroup(Rendezvous r, TCPStore store, PrefixStore groupStore, ProcessGroupGloo gloo) {
        this.rank = r.rank();
        this.worldSize = r.worldSize();
        this.timeout = r.timeout();
        this.store = store;
        this.groupStore = groupStore;
        this.gloo = gloo;
        try (PointerScope scope = new PointerScope()) {
            this.sum = keep(new AllreduceOptions());
            sum.reduceOp(new ReduceOp(ReduceOp.RedOpType.SUM));
        }
    }

    /**
     * Rendezvous and group construction: returns once every rank has joined.
     *
     * @param interfaces the network interfaces Gloo binds to ({@code GLOO_SOCKET_IFNAME}); empty:
     *                   the local address that routes to the master
     */
    static GlooProcessGroup join(Rendezvous r, List<String> interfaces) {
        long timeoutMs = Math.max(1, r.timeout().toMillis());
        String where = "rendezvous at " + hostPort(r) + " as rank " + r.rank() + " of " + r.worldSize();
        TCPStore store = null;
        PrefixStore groupStore = null;
        ProcessGroupGloo gloo = null;
        try (PointerScope scope = new PointerScope()) {
            TCPStoreOptions so = new TCPStoreOptions();
            so.port((short) r.masterPort()); // uint16_t: ports over 32767 pass as negative shorts
            so.isServer(r.rank() == 0);
            so.numWorkers(new SizeTPointer(1).put(r.worldSize()));
            so.waitWorkers(true); // the server returns once all ranks are connected
            so.timeout(new Milliseconds(timeoutMs));
            store = pin(native_(where, () -> new TCPStore(r.masterAddr(), so)));
            groupStore = pin(new PrefixStore("default_pg/gloo", store));

            ProcessGroupGloo.Options options = new ProcessGroupGloo.Options(new Milliseconds(timeoutMs));
            for (Device d : devices(r, interfaces, where)) {
                options.devices().push_back(d);
            }
            PrefixStore s = groupStore;
            gloo = keep(native_(where, () -> new ProcessGroupGloo(s, r.rank(), r.worldSize(), options)));
            return new GlooProcessGroup(r, store, groupStore, gloo);
        } catch (RuntimeException e) {
            destroy(gloo, groupStore, store);
            throw e;
        }
    }

    private static List<Device> devices(Rendezvous r, List<String> interfaces, String where) {
        if (!interfaces.isEmpty()) {
            return interfaces.stream().map(i -> native_(where + ", binding to interface " + i + " of " + GlooProcessGroups.SOCKET_IFNAME,
                    () -> ProcessGroupGloo.createDeviceForInterface(i))).toList();
        }
        String local = localAddressTowards(r.masterAddr(), r.masterPort());
        if (local == null) { // no route known: c10d's default, this host's name or else loopback
            return List.of(native_(where, () -> ProcessGroupGloo.createDefaultDevice()));
        }
        return List.of(native_(where + ", binding to " + local, () -> ProcessGroupGloo.createDeviceForHostname(local)));
    }

    /**
     * The address of the local interface the kernel routes to {@code host} from: loopback for a
     * master on this machine by loopback, the outward address for a remote master. A connected UDP
     * socket only looks up the route; it sends nothing. Null when there is no route.
     */
    static String localAddressTowards(String host, int port) {
        try (DatagramSocket probe = new DatagramSocket()) {
            probe.connect(InetAddress.getByName(host), port);
            InetAddress local = probe.getLocalAddress();
            return local == null || local.isAnyLocalAddress() ? null : local.getHostAddress();
        } catch (java.io.IOException | RuntimeException e) {
            return null;
        }
    }

    @Override
    public int rank() {
        return rank;
    }

    @Override
    public int worldSize() {
        return worldSize;
    }

    @Override
    public Pending allReduceSum(MemorySegment f32Buffer) {
        String op = "all-reduce of " + f32Buffer.byteSize() + " bytes";
        checkUsable("all-reduce");
        requireNative(f32Buffer, "all-reduce");
        if (f32Buffer.byteSize() % Float.BYTES != 0) {
            throw new IllegalArgumentException("all-reduce: an f32 buffer of " + f32Buffer.byteSize() + " bytes: not a multiple of 4");
        }
        if (f32Buffer.byteSize() == 0) {
            return GlooPending.DONE;
        }
        try (PointerScope scope = new PointerScope()) {
            TensorVector t = new TensorVector(view(f32Buffer, f32Buffer.byteSize() / Float.BYTES, ScalarType.Float));
            return issue(op, () -> gloo.allreduce(t, sum));
        }
    }

    @Override
    public void allReduceSum(double[] values) {
        checkUsable("all-reduce");
        if (values.length == 0) {
            return;
        }
        // Group-owned scratch: if the wait gives up while Gloo still runs, Gloo writes into live memory.
        long bytes = (long) values.length * Double.BYTES;
        if (scalars.byteSize() < bytes) {
            scalars = arena.allocate(bytes, 64);
        }
        MemorySegment s = scalars.asSlice(0, bytes);
        MemorySegment.copy(values, 0, s, ValueLayout.JAVA_DOUBLE, 0, values.length);
        try (PointerScope scope = new PointerScope()) {
            TensorVector t = new TensorVector(view(s, values.length, ScalarType.Double));
            issue("all-reduce of " + values.length + " f64 scalars", () -> gloo.allreduce(t, sum)).await();
        }
        MemorySegment.copy(s, ValueLayout.JAVA_DOUBLE, 0, values, 0, values.length);
    }

    @Override
    public void broadcast(MemorySegment bytes, int root) {
        checkUsable("broadcast");
        requireNative(bytes, "broadcast");
        if (root < 0 || root >= worldSize) {
            throw new IllegalArgumentException("broadcast: root " + root + " is not a rank of a group of " + worldSize);
        }
        if (bytes.byteSize() == 0) {
            return;
        }
        try (PointerScope scope = new PointerScope()) {
            TensorVector t = new TensorVector(view(bytes, bytes.byteSize(), ScalarType.Byte));
            BroadcastOptions options = new BroadcastOptions();
            options.rootRank(root);
            options.rootTensor(0);
            issue("broadcast of " + bytes.byteSize() + " bytes from rank " + root, () -> gloo.broadcast(t, options)).await();
        }
    }

    @Override
    public void barrier() {
        checkUsable("barrier");
        try (PointerScope scope = new PointerScope()) {
            BarrierOptions options = new BarrierOptions();
            issue("barrier", () -> gloo.barrier(options)).await();
        }
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        // ~ProcessGroupGloo lets its queued work finish (each op ends by its timeout at the latest)
        // and joins its threads: after it, nothing writes into a buffer any more.
        destroy(gloo, groupStore, store);
        sum.releaseReference();
        arena.close();
    }

    @Override
    public String toString() {
        return "GlooProcessGroup[rank " + rank + " of " + worldSize + (failure != null ? ", failed: " + failure : "") + "]";
    }

    private void checkUsable(String op) {
        if (closed) {
            throw new IllegalStateException(op + " on a closed process group");
        }
        String f = failure;
        if (f != null) {
            throw new CollectiveException(op + " on rank " + rank + " of " + worldSize + ": the group failed earlier: " + f);
        }
    }

    private Pending issue(String op, Supplier<Work> start) {
        Work work;
        try {
            work = keep(start.get()); // Gloo's own threads run it; the at::Tensor it holds keeps no Java memory alive
        } catch (RuntimeException e) {
            throw fail(op, reason(e));
        }
        return new GlooPending(this, op, work);
    }

    /** Records the group's first failure and makes the exception for this one. */
    CollectiveException fail(String op, String reason) {
        if (failure == null) {
            failure = op + ": " + reason;
        }
        return new CollectiveException(op + " failed on rank " + rank + " of " + worldSize + ": " + reason);
    }

    Duration timeout() {
        return timeout;
    }

    /** A collective in flight: the Work c10d returned, held until it is waited for. */
    private static final class GlooPending implements Pending {
        static final Pending DONE = new Pending() {
            @Override
            public void await() {}

            @Override
            public boolean isDone() {
                return true;
            }
        };

        private final GlooProcessGroup group;
        private final String op;
        private Work work;
        private CollectiveException failed;

        GlooPending(GlooProcessGroup group, String op, Work work) {
            this.group = group;
            this.op = op;
            this.work = work;
        }

        @Override
        public synchronized boolean isDone() {
            return work == null || work.isCompleted();
        }

        @Override
        public synchronized void await() {
            if (work == null) {
                if (failed != null) {
                    throw failed;
                }
                return;
            }
            try {
                waitInSlices();
            } catch (CollectiveException e) {
                failed = e;
                throw e;
            } finally {
                work.releaseReference();
                work = null;
            }
        }

        /**
         * Native waits of a bounded slice each, so a silent peer or an interrupt ends the wait at
         * the deadline even if Gloo's own timeout (counted from when its thread started the op) has
         * not fired yet.
         */
        private void waitInSlices() {
            long deadline = System.nanoTime() + group.timeout().toNanos();
            while (true) {
                long leftMs = (deadline - System.nanoTime()) / 1_000_000;
                if (leftMs <= 0) {
                    throw group.fail(op, "no result within the group's timeout of " + group.timeout().toMillis()
                            + " ms: a peer stopped taking part in collectives");
                }
                try (PointerScope scope = new PointerScope()) {
                    work._wait(new Milliseconds(Math.min(WAIT_SLICE_MS, leftMs)));
                    return;
                } catch (RuntimeException e) {
                    if (work.isCompleted()) { // the collective failed, not the slice
                        throw group.fail(op, reason(e));
                    }
                }
                if (Thread.currentThread().isInterrupted()) {
                    throw group.fail(op, "the waiting thread was interrupted");
                }
            }
        }
    }

    /** A zero-copy ATen tensor [n] of {@code type} over {@code segment}: from_blob without a deleter, as {@link Aten#view}. */
    private static org.bytedeco.pytorch.Tensor view(MemorySegment segment, long n, ScalarType type) {
        long raw = segment.address();
        Pointer at = new Pointer() {
            {
                address = raw;
            }
        };
        return torch.from_blob(at, new long[] {n}, new TensorOptions(type));
    }

    private static void requireNative(MemorySegment s, String op) {
        if (!s.isNative()) {
            throw new IllegalArgumentException(op + ": the buffer must be native memory, not a heap segment");
        }
    }

    /** Runs a c10d call whose failure is a one-line {@link CollectiveException} saying where. */
    private static <T> T native_(String where, Supplier<T> call) {
        try {
            return call.get();
        } catch (RuntimeException e) {
            throw new CollectiveException(where + " failed: " + reason(e));
        }
    }

    /**
     * The reason c10d gave, without its C++ backtrace: the first line of the message, without the
     * source position Gloo puts in front.
     */
    static String reason(RuntimeException e) {
        String m = e.getMessage();
        if (m == null || m.isBlank()) {
            return e.getClass().getSimpleName();
        }
        String first = m.lines().map(String::strip).filter(l -> !l.isEmpty()).findFirst().orElse(m.strip());
        return SOURCE_POSITION.matcher(first).replaceFirst("");
    }

    private static String hostPort(Rendezvous r) {
        return (r.masterAddr().contains(":") ? "[" + r.masterAddr() + "]" : r.masterAddr()) + ":" + r.masterPort();
    }

    /** Keeps a pointer made in a {@link PointerScope} past the scope: its own reference, released when it is done with. */
    private static <P extends Pointer> P keep(P p) {
        p.retainReference();
        return p;
    }

    /** A store c10d holds by intrusive pointer: kept past the scope, and never deleted by the garbage collector. */
    private static <P extends Pointer> P pin(P p) {
        keep(p).deallocate(false);
        return p;
    }

    /** Group, prefix store, TCPStore: each deleted before what it holds (on rank 0 the last stops the rendezvous server). */
    private static void destroy(ProcessGroupGloo gloo, PrefixStore groupStore, TCPStore store) {
        if (gloo != null) {
            gloo.deallocate();
        }
        if (groupStore != null) {
            groupStore.deallocate();
        }
        if (store != null) {
            store.deallocate();
        }
    }
}
