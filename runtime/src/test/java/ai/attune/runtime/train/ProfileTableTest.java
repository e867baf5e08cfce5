package ai.attune.runtime.train;

import ai.attune.api.tensor.OpProfile;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The table's arithmetic on a hand-made snapshot: two steps of 100 ms, 150 ms of it in two ops. */
class ProfileTableTest {
    private static final OpProfile.Snapshot SNAPSHOT = new OpProfile.Snapshot(List.of(
            new OpProfile.Row("aten::mm", 4, 120_000_000, 120_000_000, 6e9, 0),
            new OpProfile.Row("aten::empty", 10, 30_000_000, 30_000_000, 0, 3L << 20)), 200_000_000, 1L << 20);

    @Test
    void rowsGiveShareGflopsAndTheTimeOutsideKernels() {
        ProfileTable t = ProfileTable.of(SNAPSHOT, 2, 200_000_000);
        ProfileTable.Row mm = t.rows().get(0);
        assertEquals(120.0, mm.selfMs(), 1e-9);
        assertEquals(60.0, mm.msPerStep(), 1e-9);
        assertEquals(0.6, mm.share(), 1e-12);
        assertEquals(50.0, mm.gflops(), 1e-9); // 6e9 FLOPs in 0.12 s
        ProfileTable.Row empty = t.rows().get(1);
        assertTrue(Double.isNaN(empty.gflops()));
        assertEquals(3.0, empty.mibAllocated(), 1e-12);
        ProfileTable.Row outside = t.rows().get(2);
        assertEquals(ProfileTable.OUTSIDE, outside.name());
        assertNull(outside.calls());
        assertEquals(50.0, outside.selfMs(), 1e-9);
        assertEquals(0.25, outside.share(), 1e-12);
        assertEquals(1.0, outside.mibAllocated(), 1e-12);
    }

    @Test
    void theJsonOfAProfileEventGivesTheSameTable() {
        ProfileTable t = ProfileTable.of(SNAPSHOT, 2, 200_000_000);
        var event = com.fasterxml.jackson.databind.node.JsonNodeFactory.instance.objectNode().put("steps", 2).put("step_ms", 100.0);
        event.set("ops", t.toJson());
        assertEquals(t, ProfileTable.fromJson(event));
        assertTrue(t.format().contains("(outside kernels)"), t.format());
    }

    @Test
    void snapshotsOfSeparateStepsAddUpByName() {
        OpProfile.Snapshot twice = SNAPSHOT.plus(SNAPSHOT);
        assertEquals(8, twice.rows().get(0).calls());
        assertEquals(12e9, twice.rows().get(0).flops());
        assertEquals(2L << 20, twice.bytesOutsideOps());
        assertEquals(300_000_000, twice.selfNanos());
    }
}
