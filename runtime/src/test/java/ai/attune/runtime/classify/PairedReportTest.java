package ai.attune.runtime.classify;

import ai.attune.api.spi.TrainingThroughput;
import ai.attune.runtime.classify.PairedReport.Paired;
import ai.attune.runtime.classify.PairedReport.Row;
import ai.attune.runtime.classify.PairedReport.Scores;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The paired statistics against values worked by hand (the working is in the comments). */
class PairedReportTest {
    private static final double EPS = 1e-12;

    /**
     * Three seeds. Accuracy: baseline 0.80 0.70 0.90, setfit 0.80 0.73 0.96, differences 0 0.03 0.06.
     * Macro-F1: baseline 0.50 0.60 0.70, setfit 0.55 0.50 0.70, differences 0.05 -0.10 0.
     */
    private static PairedReport threeSeeds() {
        PairedReport r = new PairedReport("setfit", true, true);
        r.add(new Row(42, 16, new Scores(0.80, 0.50), new Scores(0.80, 0.55), null));
        r.add(new Row(43, 16, new Scores(0.70, 0.60), new Scores(0.73, 0.50), null));
        r.add(new Row(44, 16, new Scores(0.90, 0.70), new Scores(0.96, 0.70), null));
        return r;
    }

    @Test
    void meanStdAndStandardErrorOfThePairedDifferences() {
        PairedReport r = threeSeeds();
        // accuracy differences 0, 0.03, 0.06: mean 0.03; deviations -0.03 0 0.03, squares sum 0.0018,
        // / (3 - 1) = 0.0009, std 0.03; standard error 0.03 / sqrt(3) = 0.017320508075688773.
        Paired acc = r.paired(0);
        assertEquals(0.03, acc.mean(), EPS);
        assertEquals(0.03, acc.std(), EPS);
        assertEquals(0.017320508075688773, acc.standardError(), EPS);
        assertEquals(List.of(2, 1, 0), List.of(acc.won(), acc.tied(), acc.lost()));
        // macro-F1 differences 3/60, -6/60, 0: mean -1/60; deviations 4/60, -5/60, 1/60, squares sum 42/3600 = 7/600,
        // / 2 = 7/1200, std sqrt(7/1200) = 0.07637626158259733; standard error sqrt(7/3600) = sqrt(7) / 60 = 0.044095855184409845.
        Paired f1 = r.paired(1);
        assertEquals(-1.0 / 60, f1.mean(), EPS);
        assertEquals(0.07637626158259733, f1.std(), EPS);
        assertEquals(0.044095855184409845, f1.standardError(), EPS);
        assertEquals(List.of(1, 1, 1), List.of(f1.won(), f1.tied(), f1.lost()));
        // baseline accuracy 0.8 ± 0.1 (deviations 0 -0.1 0.1); setfit accuracy mean 0.83, deviations -0.03 -0.10 0.13,
        // squares sum 0.0278, / 2 = 0.0139, std sqrt(0.0139) = 0.11789826122551596.
        assertEquals(0.8, r.stat(true, 0).mean(), EPS);
        assertEquals(0.1, r.stat(true, 0).std(), EPS);
        assertEquals(0.83, r.stat(false, 0).mean(), EPS);
        assertEquals(0.11789826122551596, r.stat(false, 0).std(), EPS);
        assertEquals(0.6, r.stat(true, 1).mean(), EPS);
        assertEquals(0.1, r.stat(true, 1).std(), EPS);
    }

    @Test
    void theTextShowsEachSeedAndThePairedSummary() {
        PairedReport r = threeSeeds();
        assertEquals("""
                        baseline            setfit              setfit - baseline
                seed    accuracy  macro-F1  accuracy  macro-F1  accuracy  macro-F1
                """, r.rowHeader());
        assertEquals("43      0.7000    0.6000    0.7300    0.5000    +0.0300   -0.1000\n", r.rowLine(r.rows().get(1)));
        String summary = r.summary();
        assertTrue(summary.startsWith("3 seeds (42-44): mean ± sample std; the difference paired by seed: mean ± standard error\n"), summary);
        assertTrue(summary.contains("baseline (frozen + head)     0.8000 ± 0.1000      0.6000 ± 0.1000\n"), summary);
        assertTrue(summary.contains("setfit (fine-tuned + head)   0.8300 ± 0.1179      0.5833 ± 0.1041\n"), summary);
        assertTrue(summary.contains("setfit - baseline            +0.0300 ± 0.0173     -0.0167 ± 0.0441\n"), summary);
        assertTrue(summary.contains("setfit won/tied/lost         2/1/0                1/1/1\n"), summary);
    }

    @Test
    void oneSeedHasNoSpreadToReport() {
        PairedReport r = new PairedReport("setfit", true, true);
        r.add(new Row(42, 16, new Scores(0.75, 0.5), new Scores(0.875, 0.625), null));
        assertTrue(Double.isNaN(r.paired(0).standardError()));
        String summary = r.summary();
        assertTrue(summary.contains("baseline (frozen + head)     0.7500               0.5000\n"), summary);
        assertTrue(summary.contains("setfit - baseline            +0.1250              +0.1250\n"), summary);
        assertTrue(!summary.contains("±") && !summary.contains("won/tied/lost"), summary);
        JsonNode j = r.toJson(new ObjectMapper().createObjectNode(), Double.NaN);
        assertTrue(j.at("/summary/difference/accuracy/standard_error").isNull());
        assertEquals(0.125, j.at("/summary/difference/accuracy/mean").asDouble(), EPS);
        assertTrue(j.path("fma_peak_gflops").isMissingNode(), "no body was trained: no peak to report");
    }

    @Test
    void theJsonHoldsEveryRowAndTheSummary() {
        PairedReport r = new PairedReport("setfit", true, true);
        // 9 steps in 3 s over 2,000 tokens, 3,000 computed, of a 1e6-parameter body against a 36 GFLOP/s peak:
        // 6 * 1e6 * 1,000 padded tokens/s = 6 GFLOP/s, MFU 6 / 36 = 1/6.
        TrainingThroughput body = new TrainingThroughput(9, 3.0, 2000, 3000, 1_000_000);
        r.add(new Row(42, 16, new Scores(0.80, 0.50), new Scores(0.80, 0.55), body));
        r.add(new Row(43, 16, new Scores(0.70, 0.60), new Scores(0.73, 0.50), body));
        r.add(new Row(44, 16, new Scores(0.90, 0.70), new Scores(0.96, 0.70), body));
        JsonNode j = r.toJson(new ObjectMapper().createObjectNode().put("model", "m"), 36.0);
        assertEquals("m", j.path("model").asText());
        assertEquals(36.0, j.path("fma_peak_gflops").asDouble());
        assertEquals(3, j.path("rows").size());
        JsonNode row = j.path("rows").get(1);
        assertEquals(43, row.path("seed").asLong());
        assertEquals(0.73, row.at("/setfit/accuracy").asDouble());
        assertEquals(0.60, row.at("/baseline/macro_f1").asDouble());
        assertEquals(0.03, row.at("/difference/accuracy").asDouble(), EPS);
        assertEquals(3.0, row.at("/body_training/steps_per_second").asDouble(), EPS);
        assertEquals(1000.0, row.at("/body_training/padded_tokens_per_second").asDouble(), EPS);
        assertEquals(1.0 / 6, row.at("/body_training/mfu").asDouble(), EPS);
        assertEquals(3, j.at("/summary/seeds").asInt());
        assertEquals(0.017320508075688773, j.at("/summary/difference/accuracy/standard_error").asDouble(), EPS);
        assertEquals(2, j.at("/summary/difference/accuracy/won").asInt());
        assertEquals(0.1, j.at("/summary/baseline/accuracy/std").asDouble(), EPS);
        assertEquals(0.83, j.at("/summary/setfit/accuracy/mean").asDouble(), EPS);
    }

    @Test
    void onlyTheColumnsThatRanAreReported() {
        PairedReport r = new PairedReport("setfit", true, false);
        r.add(new Row(42, 16, new Scores(0.5, 0.25), null, null));
        r.add(new Row(43, 16, new Scores(0.7, 0.35), null, null));
        assertEquals("        baseline\nseed    accuracy  macro-F1\n", r.rowHeader());
        String summary = r.summary();
        assertTrue(summary.startsWith("2 seeds (42-43): mean ± sample std\n"), summary);
        // 0.5 and 0.7: mean 0.6, std sqrt(0.02 / 1) = 0.1414
        assertTrue(summary.contains("baseline (frozen + head)     0.6000 ± 0.1414      0.3000 ± 0.0707\n"), summary);
        assertTrue(!summary.contains("setfit"), summary);
        assertThrows(IllegalArgumentException.class, () -> r.add(new Row(44, 16, new Scores(1, 1), new Scores(1, 1), null)));
    }

    @Test
    void theReportFileIsReplacedWholeAndNoTemporaryStays(@TempDir Path dir) throws IOException {
        Path f = dir.resolve("report.json");
        ClassifierRun.writeAtomically(f, "{\"a\": 1}\n");
        ClassifierRun.writeAtomically(f, "{\"a\": 2}\n");
        assertEquals("{\"a\": 2}\n", Files.readString(f));
        try (var files = Files.list(dir)) {
            assertEquals(List.of(f), files.toList());
        }
    }
}
