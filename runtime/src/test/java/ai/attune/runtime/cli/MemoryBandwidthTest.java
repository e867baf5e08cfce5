package ai.attune.runtime.cli;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * STREAM's triad and copy compute what their definitions say, element by element, in the Vector
 * API loops and their scalar references, over lengths that are no multiple of a vector and chunks
 * split over several threads, so the vector loops, their tails and the chunk edges all run.
 */
class MemoryBandwidthTest {
    /** 3 threads over 1,031 elements: chunks of whole vectors, the last one short and ending in a tail. */
    private static final long N = 1031;

    @Test
    void theTriadAndTheCopyOverThreadsGiveEveryElementItsValue() {
        try (MemoryBandwidth m = new MemoryBandwidth(N, 3)) {
            float[] b = read(m.b);
            float[] c = read(m.c);
            m.triad();
            float[] a = read(m.a);
            for (int i = 0; i < N; i++) {
                assertEquals(b[i] + 3.0f * c[i], a[i], 0.0f, "triad a[" + i + "]");
            }
            m.a.fill((byte) 0);
            m.copy();
            float[] copied = read(m.a);
            for (int i = 0; i < N; i++) {
                assertEquals(b[i], copied[i], 0.0f, "copy a[" + i + "]");
            }
        }
    }

    @Test
    void theVectorKernelsMatchTheirReferencesOnAnyRange() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment b = arena.allocate(N * Float.BYTES);
            MemorySegment c = arena.allocate(N * Float.BYTES);
            for (long i = 0; i < N; i++) {
                b.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) Math.sin(i));
                c.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) Math.cos(0.3 * i) * 1e3f);
            }
            // Ranges that start and end off a vector boundary, and an empty one.
            for (long[] range : new long[][] {{0, N}, {3, 1001}, {17, 18}, {500, 500}}) {
                MemorySegment fast = arena.allocate(N * Float.BYTES);
                MemorySegment ref = arena.allocate(N * Float.BYTES);
                MemoryBandwidth.triad(fast, b, c, 2.5f, range[0], range[1]);
                MemoryBandwidth.triadReference(ref, b, c, 2.5f, range[0], range[1]);
                assertEquals(-1, fast.mismatch(ref), "triad over " + range[0] + ".." + range[1]);
                MemoryBandwidth.copy(fast, c, range[0], range[1]);
                MemoryBandwidth.copyReference(ref, c, range[0], range[1]);
                assertEquals(-1, fast.mismatch(ref), "copy over " + range[0] + ".." + range[1]);
                for (long i = range[0]; i < range[1]; i++) {
                    assertEquals(c.getAtIndex(ValueLayout.JAVA_FLOAT, i), fast.getAtIndex(ValueLayout.JAVA_FLOAT, i), 0.0f);
                }
                for (long i = 0; i < N; i++) {
                    if (i < range[0] || i >= range[1]) {
                        assertEquals(0.0f, fast.getAtIndex(ValueLayout.JAVA_FLOAT, i), 0.0f, "outside the range, a[" + i + "] is untouched");
                    }
                }
            }
        }
    }

    @Test
    void aMeasurementCountsTheBytesStreamCounts() {
        MemoryBandwidth.Result r = MemoryBandwidth.measure(1 << 20, 2, 2);
        assertEquals(1 << 20, r.arrayBytes());
        assertEquals(2, r.threads());
        assertTrue(Double.isFinite(r.triadGbPerSecond()) && r.triadGbPerSecond() > 0, r.toString());
        assertTrue(Double.isFinite(r.copyGbPerSecond()) && r.copyGbPerSecond() > 0, r.toString());
    }

    private static float[] read(MemorySegment s) {
        return s.toArray(ValueLayout.JAVA_FLOAT);
    }
}
