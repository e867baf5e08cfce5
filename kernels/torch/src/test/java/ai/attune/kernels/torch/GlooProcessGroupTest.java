package ai.attune.kernels.torch;

import ai.attune.api.dist.CollectiveException;
import ai.attune.api.dist.ProcessGroup;
import ai.attune.api.dist.ProcessGroupFactory;
import ai.attune.api.dist.Rendezvous;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * c10d Gloo groups: two ranks in two JVMs ({@link GlooPeer}) on 127.0.0.1, which check their own
 * sums (every element of every rank's buffer against the hand-computed total); failures that must
 * end in a one-line {@link CollectiveException} within the group's timeout; and, in this JVM, the
 * group of one and the rendezvous nobody comes to.
 */
class GlooProcessGroupTest {
    @TempDir
    Path tmp;

    @Test
    void twoProcessesAllReduceBroadcastAndBarrier() throws Exception {
        List<Peer> peers = startPair("collectives", 60_000);
        for (Peer p : peers) {
            p.assertSucceeded();
            assertTrue(p.output.contains("ok: all-reduce of 2097152 floats, issued together, sums every rank's buffer"), p.output);
            assertTrue(p.output.contains("ok: broadcast of 17 bytes from rank 1 gives every rank the root's bytes"), p.output);
        }
    }

    @Test
    void aPeerThatExitsFailsTheAllReduceWithinTheTimeout() throws Exception {
        long timeoutMs = 10_000;
        List<Peer> peers = startPair("peer-exits", timeoutMs);
        Peer rank0 = peers.get(0), rank1 = peers.get(1);
        assertEquals(7, rank1.exit, rank1.output);
        rank0.assertSucceeded();
        String failure = rank0.line("failed after ");
        long ms = millis(failure);
        assertTrue(ms < timeoutMs, "a peer that died is noticed before the timeout: " + failure);
        assertTrue(failure.contains(" ms, message of 1 line: all-reduce of 1048576 bytes failed on rank 0 of 2: "), failure);
        assertTrue(failure.contains("127.0.0.1"), "names the peer's address: " + failure);
        assertFalse(failure.contains("frame #") || failure.contains(".cc:"), "no C++ backtrace or source position: " + failure);
        assertTrue(rank0.line("then: ").startsWith("then: barrier on rank 0 of 2: the group failed earlier: all-reduce of 1048576 bytes: "),
                rank0.output);
    }

    @Test
    void aSilentPeerFailsTheAllReduceAtTheTimeout() throws Exception {
        long timeoutMs = 3_000;
        List<Peer> peers = startPair("silent-peer", timeoutMs);
        Peer rank0 = peers.get(0);
        rank0.assertSucceeded();
        String failure = rank0.line("failed after ");
        long ms = millis(failure);
        assertTrue(ms < timeoutMs + 2_000, "gives up at the timeout (" + timeoutMs + " ms): " + failure);
        assertTrue(failure.contains(" ms, message of 1 line: all-reduce of 1048576 bytes failed on rank 0 of 2: "), failure);
    }

    @Test
    void aGroupOfOneSumsNothingAndFreesItsPortOnClose() throws Exception {
        ProcessGroupFactory gloo = available();
        int port = freePort();
        Rendezvous alone = new Rendezvous("127.0.0.1", port, 0, 1, 0, Duration.ofSeconds(10));
        for (int round = 0; round < 2; round++) { // the second join binds the port the first one released
            try (Arena arena = Arena.ofConfined(); ProcessGroup g = gloo.join(alone)) {
                MemorySegment f = arena.allocate(5 * Float.BYTES, 64);
                f.copyFrom(MemorySegment.ofArray(new float[] {1, -2, 3.5f, 0, 1e-3f}));
                g.allReduceSum(f).await();
                assertArrayEquals(new float[] {1, -2, 3.5f, 0, 1e-3f}, f.toArray(ValueLayout.JAVA_FLOAT));
                double[] d = {4, 0.25};
                g.allReduceSum(d);
                assertArrayEquals(new double[] {4, 0.25}, d);
                MemorySegment b = arena.allocate(3);
                b.copyFrom(MemorySegment.ofArray(new byte[] {9, 8, 7}));
                g.broadcast(b, 0);
                assertArrayEquals(new byte[] {9, 8, 7}, b.toArray(ValueLayout.JAVA_BYTE));
                g.barrier();

                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> g.allReduceSum(arena.allocate(6)));
                assertEquals("all-reduce: an f32 buffer of 6 bytes: not a multiple of 4", e.getMessage());
                assertThrows(IllegalArgumentException.class, () -> g.allReduceSum(MemorySegment.ofArray(new float[2])));
                e = assertThrows(IllegalArgumentException.class, () -> g.broadcast(b, 1));
                assertEquals("broadcast: root 1 is not a rank of a group of 1", e.getMessage());
            }
        }
    }

    @Test
    void aRendezvousNobodyComesToFailsWithinItsTimeout() throws Exception {
        ProcessGroupFactory gloo = available();
        int port = freePort();
        CollectiveException master = assertThrows(CollectiveException.class,
                () -> gloo.join(new Rendezvous("127.0.0.1", port, 0, 2, 0, Duration.ofSeconds(1))));
        assertTrue(master.getMessage().startsWith("rendezvous at 127.0.0.1:" + port + " as rank 0 of 2 failed: "), master.getMessage());
        assertEquals(1, master.getMessage().lines().count(), master.getMessage());
        CollectiveException worker = assertThrows(CollectiveException.class,
                () -> gloo.join(new Rendezvous("127.0.0.1", port, 1, 2, 1, Duration.ofSeconds(1))));
        assertTrue(worker.getMessage().startsWith("rendezvous at 127.0.0.1:" + port + " as rank 1 of 2 failed: "), worker.getMessage());
        assertEquals(1, worker.getMessage().lines().count(), worker.getMessage());
    }

    @Test
    void glooBindsToTheInterfacesOfGlooSocketIfname() throws Exception {
        available();
        int port = freePort();
        Rendezvous alone = new Rendezvous("127.0.0.1", port, 0, 1, 0, Duration.ofSeconds(5));
        try (Arena arena = Arena.ofConfined(); ProcessGroup g = new GlooProcessGroups(Map.of("GLOO_SOCKET_IFNAME", "lo")).join(alone)) {
            MemorySegment f = arena.allocate(Float.BYTES);
            f.set(ValueLayout.JAVA_FLOAT, 0, 2.5f);
            g.allReduceSum(f).await();
            assertEquals(2.5f, f.get(ValueLayout.JAVA_FLOAT, 0));
        }
        CollectiveException e = assertThrows(CollectiveException.class,
                () -> new GlooProcessGroups(Map.of("GLOO_SOCKET_IFNAME", "nosuchif0")).join(alone));
        assertTrue(e.getMessage().startsWith("rendezvous at 127.0.0.1:" + port + " as rank 0 of 1, binding to interface nosuchif0 of"
                + " GLOO_SOCKET_IFNAME failed: "), e.getMessage());
        assertEquals("127.0.0.1", GlooProcessGroup.localAddressTowards("127.0.0.1", port), "a master on loopback is reached from loopback");
    }

    @Test
    void c10dMessagesLoseTheirBacktraceAndSourcePosition() {
        RuntimeException e = new RuntimeException("[/pytorch/third_party/gloo/gloo/transport/tcp/pair.cc:553] Connection closed by peer"
                + " [127.0.0.1]:50865\nException raised from run at /pytorch/torch/csrc/distributed/c10d/ProcessGroupGloo.cpp:1 (most recent"
                + " call first):\nframe #0: c10::Error::Error");
        assertEquals("Connection closed by peer [127.0.0.1]:50865", GlooProcessGroup.reason(e));
        assertEquals("Operation timed out!", GlooProcessGroup.reason(new RuntimeException("\n  Operation timed out!\nException raised")));
    }

    @Test
    void ncclIsRefusedWithTheReason() {
        NcclProcessGroups nccl = new NcclProcessGroups();
        assumeTrue(Libtorch.unavailableReason() == null, Libtorch.unavailableReason());
        assertEquals("NCCL needs CUDA devices; this build has none: use attune.dist.backend=gloo", nccl.unavailableReason());
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> nccl.join(new Rendezvous("127.0.0.1", 29500, 0, 1, 0, Duration.ofSeconds(1))));
        assertEquals("nccl process groups are unavailable: " + nccl.unavailableReason(), e.getMessage());
    }

    /** The milliseconds of a {@code failed after N ms, ...} line. */
    private static long millis(String failure) {
        return Long.parseLong(failure.substring("failed after ".length(), failure.indexOf(" ms, ")));
    }

    private static ProcessGroupFactory available() {
        GlooProcessGroups gloo = new GlooProcessGroups(Map.of());
        assumeTrue(gloo.unavailableReason() == null, "libtorch is unavailable: " + gloo.unavailableReason());
        return gloo;
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    /** Ranks 0 and 1 of a new group, each in its own JVM with the build's flags, run to their end. */
    private List<Peer> startPair(String mode, long timeoutMs) throws Exception {
        int port = freePort();
        List<Peer> peers = new ArrayList<>();
        for (int rank = 0; rank < 2; rank++) {
            peers.add(new Peer(mode, rank, port, timeoutMs));
        }
        for (Peer p : peers) {
            p.finish();
        }
        for (Peer p : peers) {
            assumeTrue(p.exit != 3, () -> p.output.strip());
        }
        return peers;
    }

    private final class Peer {
        final Process process;
        final Path out;
        final String name;
        int exit;
        String output;

        Peer(String mode, int rank, int port, long timeoutMs) throws IOException {
            name = mode + "-rank" + rank;
            out = tmp.resolve(name + ".out");
            Path java = Path.of(System.getProperty("java.home"), "bin", "java");
            List<String> cmd = new ArrayList<>(List.of(java.toString(), "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
                    "-XX:ErrorFile=" + tmp.resolve(name + "-hs_err_pid%p.log")));
            String cache = System.getProperty("org.bytedeco.javacpp.cachedir");
            if (cache != null) {
                cmd.add("-Dorg.bytedeco.javacpp.cachedir=" + cache);
            }
            cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), GlooPeer.class.getName(),
                    String.valueOf(rank), "2", String.valueOf(port), String.valueOf(timeoutMs), mode));
            process = new ProcessBuilder(cmd).directory(tmp.toFile()).redirectErrorStream(true).redirectOutput(out.toFile()).start();
        }

        void finish() throws Exception {
            if (!process.waitFor(3, TimeUnit.MINUTES)) {
                process.destroyForcibly();
                throw new AssertionError(name + " did not finish in 3 minutes:\n" + Files.readString(out));
            }
            exit = process.exitValue();
            output = Files.readString(out);
        }

        void assertSucceeded() {
            assertFalse(output.contains("A fatal error has been detected"), name + ":\n" + output);
            assertEquals(0, exit, name + ":\n" + output);
            assertTrue(output.lines().anyMatch("done"::equals), name + ":\n" + output);
        }

        /** The one line that starts with {@code prefix}; its CollectiveException message must be one line, so the whole is. */
        String line(String prefix) {
            return output.lines().filter(l -> l.startsWith(prefix)).findFirst()
                    .orElseThrow(() -> new AssertionError(name + " printed no line starting with '" + prefix + "':\n" + output));
        }
    }
}
