package ai.attune.runtime.dist;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

class RankLauncherTest {
    @Test
    void aKilledRankIsReportedByItsSignalNotByWhatItPrintedLast() {
        assertEquals("killed by signal 9 (SIGKILL: killed from outside, e.g. kill -9 or the out-of-memory killer)",
                RankLauncher.message("step 3/30 loss 2.1", 137));
        assertEquals("killed by signal 15 (SIGTERM)", RankLauncher.message("", 143));
    }

    @Test
    void aFailedRankIsReportedByItsOwnLine() {
        assertEquals("bad.jsonl:6: not valid JSON", RankLauncher.message("attune: bad.jsonl:6: not valid JSON", 1));
        assertEquals("exited with code 1 and no message", RankLauncher.message(" ", 1));
    }
}
