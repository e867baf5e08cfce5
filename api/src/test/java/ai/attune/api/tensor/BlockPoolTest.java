package ai.attune.api.tensor;

import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The pool's rules: reuse by size, zero when asked, poison what comes back, hold at most a quarter more than the most ever in use. */
class BlockPoolTest {
    @Test
    void aReleasedBlockServesTheNextRequestOfItsSize() {
        try (Scope s = Scope.open("outer")) {
            long live = BlockPool.liveBytes();
            MemorySegment a = s.allocate(1 << 20, true);
            assertEquals(live + (1 << 20), BlockPool.liveBytes());
            a.set(ValueLayout.JAVA_FLOAT, 0, 3f);
            s.release(a);
            s.release(a); // a second release does nothing
            assertEquals(live, BlockPool.liveBytes());
            MemorySegment b = s.allocate(1 << 20, false);
            assertEquals(a.address(), b.address(), "the cached block came back");
            // the tests run with -Dattune.pool.poison=true: what came back reads as NaN until written
            assertTrue(Float.isNaN(b.get(ValueLayout.JAVA_FLOAT, 0)), "poisoned on release");
            s.release(b);
            MemorySegment c = s.allocate(1 << 20, true);
            assertEquals(0f, c.get(ValueLayout.JAVA_FLOAT, 0), "zeroed when asked");
            MemorySegment small = s.allocate(1 << 10, true);
            assertNotEquals(c.address(), small.address());
        }
    }

    /** Two 8 MiB blocks make a 16 MiB high-water mark: the pool may hold 20, so a 12 MiB miss frees one of them. */
    @Test
    void aMissFreesCachedBlocksSoTheReservedBytesStayNearTheHighWaterMark() {
        try (Scope outer = Scope.open("outer")) {
            try (Scope step = Scope.open("step")) {
                step.allocate(8 << 20, true);
                step.allocate(8 << 20, true);
            }
            long high = BlockPool.reservedBytes();
            try (Scope step = Scope.open("step")) {
                step.allocate(12 << 20, true); // fits no cached block (more than 8 MiB, and 2 x 8 is not >= 12 x 2)
                assertEquals(high + high / 4, BlockPool.reservedBytes(),
                        "one cached 8 MiB block was freed: 12 in use and 8 cached, a quarter above the high-water mark " + high);
            }
        }
        assertEquals(0, BlockPool.reservedBytes() - BlockPool.liveBytes(), "the outermost scope's close trims the cache");
    }

    /**
     * A miss frees the least recently returned block first, not the largest: 4 MiB (returned
     * first) and 40 MiB (returned last) cached, the high-water mark at their 44 MiB, so the pool
     * may hold 55. A 12 MiB request fits neither (40 is more than twice 12) and needs room; freeing
     * the 4 MiB block makes it, and the 40 MiB one stays cached for the next request of its size.
     */
    @Test
    void aMissFreesTheLeastRecentlyReturnedBlockFirst() {
        long mib = 1 << 20;
        try (Scope outer = Scope.open("outer")) {
            try (Scope step = Scope.open("step")) {
                MemorySegment small = step.allocate(4 * mib, false);
                MemorySegment large = step.allocate(40 * mib, false);
                step.release(small);
                step.release(large);
            }
            assertEquals(44 * mib, BlockPool.reservedBytes() - BlockPool.liveBytes());
            try (Scope step = Scope.open("step")) {
                step.allocate(12 * mib, false);
                assertEquals(40 * mib, BlockPool.reservedBytes() - BlockPool.liveBytes(),
                        "the 4 MiB block returned first was freed; the 40 MiB one stays cached");
            }
        }
    }

    /**
     * A large block costs resident memory only for the pages written (Linux, where blocks of a MiB
     * and more are mapped): 256 MiB taken and never written leave the process's RSS where it was,
     * read as zero, and become resident as they are written.
     */
    @Test
    void aLargeBlockIsResidentOnlyWhereWritten() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(java.nio.file.Files.isReadable(java.nio.file.Path.of("/proc/self/status")), "Linux only");
        long size = 256L << 20;
        try (Scope s = Scope.open("outer")) {
            long before = rssBytes();
            MemorySegment big = s.allocate(size, true);
            long untouched = rssBytes() - before;
            assertTrue(untouched < (32L << 20), "256 MiB taken, resident grew by " + untouched);
            assertEquals(0f, big.get(ValueLayout.JAVA_FLOAT, size / 2), "reads as zero");
            for (long off = 0; off < size / 2; off += 4096) {
                big.set(ValueLayout.JAVA_BYTE, off, (byte) 1);
            }
            long written = rssBytes() - before;
            assertTrue(written > (96L << 20), "half written, resident grew by " + written);
        }
    }

    private static long rssBytes() throws java.io.IOException {
        for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            }
        }
        throw new IllegalStateException("no VmRSS");
    }
}
