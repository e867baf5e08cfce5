package ai.attune.api.tensor;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The profile's bookkeeping: calls, self time of nested ops, FLOPs and bytes to the innermost op. No wall-clock thresholds. */
class OpProfileTest {
    @AfterEach
    void stopAny() {
        OpProfile.stop();
    }

    private static Map<String, OpProfile.Row> byName(OpProfile.Snapshot s) {
        return s.rows().stream().collect(Collectors.toMap(OpProfile.Row::name, Function.identity()));
    }

    @Test
    void offRecordsNothing() {
        assertFalse(OpProfile.recording());
        try (Scope s = Scope.open("off"); OpProfile.Op op = OpProfile.op("aten::mm", 100)) {
            s.allocate(4096, false);
        }
        OpProfile.start();
        OpProfile.Snapshot snap = OpProfile.stop();
        assertTrue(snap.rows().isEmpty(), snap.toString());
        assertEquals(0, snap.bytesOutsideOps());
    }

    @Test
    void nestedOpsGiveSelfTimeToTheInnermost() {
        OpProfile.start();
        try (OpProfile.Op outer = OpProfile.op("attune::outer")) {
            spin();
            try (OpProfile.Op inner = OpProfile.op("aten::mm", 24)) {
                spin();
            }
            spin();
        }
        Map<String, OpProfile.Row> rows = byName(OpProfile.stop());
        OpProfile.Row outer = rows.get("attune::outer");
        OpProfile.Row inner = rows.get("aten::mm");
        assertEquals(inner.totalNanos(), inner.selfNanos(), "a leaf op's self time is all of its time");
        assertEquals(outer.totalNanos(), outer.selfNanos() + inner.totalNanos(), "the outer op's self time excludes the inner op");
        assertTrue(outer.selfNanos() >= 0);
        assertEquals(24, inner.flops());
        assertEquals(0, outer.flops());
    }

    @Test
    void callsAndFlopsAddUpPerName() {
        OpProfile.start();
        for (int i = 0; i < 3; i++) {
            try (OpProfile.Op op = OpProfile.op("aten::mm", 2.0 * 4 * 5 * 3)) {
                spin();
            }
        }
        try (OpProfile.Op op = OpProfile.op("aten::add")) {
            spin();
        }
        OpProfile.Snapshot snap = OpProfile.stop();
        Map<String, OpProfile.Row> rows = byName(snap);
        assertEquals(3, rows.get("aten::mm").calls());
        assertEquals(360, rows.get("aten::mm").flops());
        assertEquals(1, rows.get("aten::add").calls());
        assertEquals(rows.get("aten::mm").selfNanos() + rows.get("aten::add").selfNanos(), snap.selfNanos());
        assertTrue(snap.wallNanos() >= snap.selfNanos());
    }

    @Test
    void allocationsCountToTheInnermostOpenOp() {
        OpProfile.start();
        try (Scope s = Scope.open("bytes")) {
            s.allocate(1000, false); // outside any op
            try (OpProfile.Op outer = OpProfile.op("attune::outer")) {
                s.allocate(300, true);
                try (OpProfile.Op inner = OpProfile.op("aten::empty")) {
                    s.allocate(4096, false);
                    s.allocate(64, false);
                }
            }
        }
        OpProfile.Snapshot snap = OpProfile.stop();
        Map<String, OpProfile.Row> rows = byName(snap);
        assertEquals(300, rows.get("attune::outer").bytesAllocated());
        assertEquals(4096 + 64, rows.get("aten::empty").bytesAllocated());
        assertEquals(1000, snap.bytesOutsideOps());
    }

    @Test
    void rowsAreSortedBySelfTimeDescending() {
        OpProfile.start();
        for (String name : new String[] {"a", "b", "c"}) {
            try (OpProfile.Op op = OpProfile.op(name)) {
                spin();
            }
        }
        var rows = OpProfile.stop().rows();
        for (int i = 1; i < rows.size(); i++) {
            assertTrue(rows.get(i - 1).selfNanos() >= rows.get(i).selfNanos(), rows.toString());
        }
    }

    @Test
    void oneRecordingAtATime() {
        OpProfile.start();
        assertThrows(IllegalStateException.class, OpProfile::start);
        assertTrue(OpProfile.recording());
        OpProfile.stop();
        assertFalse(OpProfile.recording());
        assertTrue(OpProfile.stop().rows().isEmpty(), "stopping twice gives an empty snapshot");
    }

    /** Some work, so that an op's clock advances; its duration is never asserted. */
    private static void spin() {
        long x = 0;
        for (int i = 0; i < 10_000; i++) {
            x += Long.rotateLeft(x ^ i, 7);
        }
        if (x == 42) {
            System.out.print("");
        }
    }
}
