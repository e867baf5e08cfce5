package ai.attune.kernels.torch;

import ai.attune.api.dist.CollectiveException;
import ai.attune.api.dist.ProcessGroup;
import ai.attune.api.dist.Rendezvous;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * One rank of a Gloo group on 127.0.0.1, run in its own JVM by {@link GlooProcessGroupTest} (or by
 * hand for the timings). Prints {@code ok: ...} per check and {@code done} at the end, exits 0;
 * a failed check prints {@code FAILED: ...} and exits 1; exit 3 when libtorch is unavailable.
 *
 * <pre>
 * java ... GlooPeer RANK WORLD PORT TIMEOUT_MS MODE
 *   MODE = collectives   all-reduce (odd sizes, 8 MiB, in flight together, a slice, twice), f64 scalars, broadcast, barrier
 *          peer-exits    rank 1 halts after one all-reduce; rank 0's next all-reduce must fail, and every later op
 *          silent-peer   rank 1 stays alive but takes no part; rank 0's all-reduce must fail at the timeout
 *          bench         all-reduce timings for 8 MiB and 64 MiB
 * </pre>
 */
public final class GlooPeer {
    private static int rank;

    private GlooPeer() {}

    public static void main(String[] a) throws Exception {
        rank = Integer.parseInt(a[0]);
        int world = Integer.parseInt(a[1]);
        int port = Integer.parseInt(a[2]);
        Duration timeout = Duration.ofMillis(Long.parseLong(a[3]));
        String mode = a[4];
        GlooProcessGroups factory = new GlooProcessGroups(Map.of());
        if (factory.unavailableReason() != null) {
            System.out.println("unavailable: " + factory.unavailableReason());
            System.exit(3);
        }
        try (Arena arena = Arena.ofShared();
             ProcessGroup g = factory.join(new Rendezvous("127.0.0.1", port, rank, world, rank, timeout))) {
            check(g.rank() == rank && g.worldSize() == world, "joined as rank " + g.rank() + " of " + g.worldSize());
            switch (mode) {
                case "collectives" -> collectives(g, arena);
                case "peer-exits" -> peerExits(g, arena);
                case "silent-peer" -> silentPeer(g, arena, timeout);
                case "bench" -> bench(g, arena);
                default -> throw new IllegalArgumentException(mode);
            }
        } catch (AssertionError e) {
            System.out.println("FAILED: " + e.getMessage());
            System.exit(1);
        }
        System.out.println("done");
        System.exit(0);
    }

    /** Rank r contributes (r + 1) * f(i) at element i. */
    private static float f(long i) {
        return (i % 2001) - 1000;
    }

    private static MemorySegment filled(Arena arena, long n) {
        MemorySegment s = arena.allocate(n * Float.BYTES, 64);
        for (long i = 0; i < n; i++) {
            s.setAtIndex(ValueLayout.JAVA_FLOAT, i, (rank + 1) * f(i));
        }
        return s;
    }

    /** Whether every element of s equals factor * f(i); the first mismatch otherwise. */
    private static String mismatch(MemorySegment s, float factor) {
        long n = s.byteSize() / Float.BYTES;
        for (long i = 0; i < n; i++) {
            float got = s.getAtIndex(ValueLayout.JAVA_FLOAT, i);
            if (got != factor * f(i)) {
                return "element " + i + " of " + n + " is " + got + ", expected " + factor * f(i);
            }
        }
        return null;
    }

    private static void collectives(ProcessGroup g, Arena arena) {
        int world = g.worldSize();
        float ranksSum = world * (world + 1) / 2f; // sum over ranks of (r + 1)
        long[] sizes = {1, 3, 1000, 4099, 2L << 20}; // floats; the last is 8 MiB
        List<MemorySegment> buffers = new ArrayList<>();
        List<ProcessGroup.Pending> pending = new ArrayList<>();
        for (long n : sizes) {
            MemorySegment s = filled(arena, n);
            buffers.add(s);
            pending.add(g.allReduceSum(s)); // all in flight at once
        }
        for (int k = sizes.length - 1; k >= 0; k--) {
            pending.get(k).await();
            check(pending.get(k).isDone(), "an awaited all-reduce is done");
        }
        for (int k = 0; k < sizes.length; k++) {
            String bad = mismatch(buffers.get(k), ranksSum);
            check(bad == null, "all-reduce of " + sizes[k] + " floats, issued together, sums every rank's buffer: " + (bad == null ? "" : bad));
        }
        MemorySegment big = buffers.get(sizes.length - 1);
        g.allReduceSum(big).await();
        String bad = mismatch(big, world * ranksSum);
        check(bad == null, "the 8 MiB buffer reduced a second time holds world * sum: " + (bad == null ? "" : bad));

        // a slice at an offset of a larger segment: reduced in place, its neighbours untouched
        MemorySegment whole = filled(arena, 64);
        g.allReduceSum(whole.asSlice(5L * Float.BYTES, 37L * Float.BYTES)).await();
        boolean ok = true;
        for (int i = 0; i < 64; i++) {
            float expected = (i >= 5 && i < 42 ? ranksSum : rank + 1) * f(i);
            ok &= whole.getAtIndex(ValueLayout.JAVA_FLOAT, i) == expected;
        }
        check(ok, "an all-reduce of a slice [5, 42) of 64 floats changes exactly that slice");

        double[] scalars = {rank + 1, 0.5 * rank, 1e15 + rank, -rank};
        g.allReduceSum(scalars);
        double ranks = world * (world - 1) / 2.0; // sum over ranks of r
        double[] expected = {ranksSum, 0.5 * ranks, world * 1e15 + ranks, -ranks};
        check(Arrays.equals(expected, scalars), "f64 scalars sum exactly: " + Arrays.toString(scalars));

        for (int root : new int[] {0, world - 1}) {
            int n = root == 0 ? 1001 : 17;
            MemorySegment b = arena.allocate(n);
            for (int i = 0; i < n; i++) {
                b.set(ValueLayout.JAVA_BYTE, i, rank == root ? (byte) (i * 7 + 3 + root) : (byte) 0xEE);
            }
            g.broadcast(b, root);
            ok = true;
            for (int i = 0; i < n; i++) {
                ok &= b.get(ValueLayout.JAVA_BYTE, i) == (byte) (i * 7 + 3 + root);
            }
            check(ok, "broadcast of " + n + " bytes from rank " + root + " gives every rank the root's bytes");
        }
        g.barrier();
        check(true, "barrier");
    }

    private static void peerExits(ProcessGroup g, Arena arena) throws Exception {
        MemorySegment s = filled(arena, 1 << 18);
        g.allReduceSum(s).await();
        check(true, "a first all-reduce");
        if (rank == 1) {
            System.out.println("rank 1 halts");
            System.out.flush();
            Runtime.getRuntime().halt(7); // as a crash: no teardown, the sockets just close
        }
        Thread.sleep(500); // the peer is gone by now: the failure is the peer's, not a race with its exit
        expectFailure(g, s);
    }

    private static void silentPeer(ProcessGroup g, Arena arena, Duration timeout) throws Exception {
        MemorySegment s = filled(arena, 1 << 18);
        g.allReduceSum(s).await();
        check(true, "a first all-reduce");
        if (rank == 1) {
            Thread.sleep(timeout.toMillis() + 1500); // alive, but takes no part until rank 0 gave up
            System.out.println("rank 1 halts");
            System.out.flush();
            Runtime.getRuntime().halt(0);
        }
        expectFailure(g, s);
    }

    private static void expectFailure(ProcessGroup g, MemorySegment s) {
        long t0 = System.nanoTime();
        try {
            g.allReduceSum(s).await();
            check(false, "the all-reduce without its peer returned");
        } catch (CollectiveException e) {
            System.out.println("failed after " + (System.nanoTime() - t0) / 1_000_000 + " ms, message of " + e.getMessage().lines().count()
                    + " line: " + e.getMessage());
        }
        try {
            g.barrier();
            check(false, "a barrier after the failure returned");
        } catch (CollectiveException e) {
            System.out.println("then: " + e.getMessage());
        }
        long c0 = System.nanoTime();
        g.close();
        System.out.println("closed in " + (System.nanoTime() - c0) / 1_000_000 + " ms");
    }

    private static void bench(ProcessGroup g, Arena arena) {
        for (long bytes : new long[] {8L << 20, 64L << 20}) {
            int iters = bytes > (8L << 20) ? 9 : 25;
            MemorySegment s = arena.allocate(bytes, 64);
            s.fill((byte) 0);
            for (int i = 0; i < 3; i++) {
                g.allReduceSum(s).await(); // the first use of a buffer is slow: bench the reused one
            }
            double[] ms = new double[iters];
            for (int i = 0; i < iters; i++) {
                g.barrier();
                long t0 = System.nanoTime();
                g.allReduceSum(s).await();
                ms[i] = (System.nanoTime() - t0) / 1e6;
            }
            Arrays.sort(ms);
            System.out.printf("bench: all-reduce %d MiB: median %.1f ms, min %.1f, max %.1f over %d (%.2f GB/s at the median)%n",
                    bytes >> 20, ms[iters / 2], ms[0], ms[iters - 1], iters, bytes / ms[iters / 2] / 1e6);
        }
    }

    private static void check(boolean ok, String what) {
        if (!ok) {
            throw new AssertionError("rank " + rank + ": " + what);
        }
        System.out.println("ok: " + what);
    }
}
