package ai.attune.api.dist;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A sum or a broadcast over one rank is the identity; bad buffers get the same errors as from a real group. */
class SingleProcessGroupTest {
    @Test
    void collectivesOverOneRankLeaveTheBuffersAsTheyAre() {
        try (Arena arena = Arena.ofConfined(); ProcessGroup g = ProcessGroup.single()) {
            assertEquals(0, g.rank());
            assertEquals(1, g.worldSize());
            MemorySegment f = arena.allocate(7 * Float.BYTES, 64);
            for (int i = 0; i < 7; i++) {
                f.setAtIndex(ValueLayout.JAVA_FLOAT, i, 1.5f * i);
            }
            ProcessGroup.Pending p = g.allReduceSum(f);
            assertTrue(p.isDone());
            p.await();
            assertArrayEquals(new float[] {0, 1.5f, 3, 4.5f, 6, 7.5f, 9}, f.toArray(ValueLayout.JAVA_FLOAT));
            double[] counts = {12, 0.25};
            g.allReduceSum(counts);
            assertArrayEquals(new double[] {12, 0.25}, counts);
            MemorySegment b = arena.allocate(3);
            b.copyFrom(MemorySegment.ofArray(new byte[] {4, 5, 6}));
            g.broadcast(b, 0);
            assertArrayEquals(new byte[] {4, 5, 6}, b.toArray(ValueLayout.JAVA_BYTE));
            g.barrier();
        }
    }

    @Test
    void badBuffersAndRootsAreRefused() {
        try (Arena arena = Arena.ofConfined(); ProcessGroup g = ProcessGroup.single()) {
            assertThrows(IllegalArgumentException.class, () -> g.allReduceSum(MemorySegment.ofArray(new float[4])));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> g.allReduceSum(arena.allocate(6)));
            assertEquals("all-reduce: an f32 buffer of 6 bytes: not a multiple of 4", e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> g.broadcast(arena.allocate(6), 1));
            assertEquals("broadcast: root 1 is not a rank of a group of 1", e.getMessage());
        }
    }
}
