package ai.attune.runtime.fuzz;

import ai.attune.api.data.DataException;
import ai.attune.runtime.classify.FewShotSampler;
import ai.attune.runtime.data.ClassificationData;
import ai.attune.runtime.data.DataInspection;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

/**
 * Labelled texts in CSV, ARFF and JSONL as {@code attune setfit} and {@code attune data inspect}
 * read them: ClassificationData.load, then the few-shot sample, dedup and balancing on what was
 * read; inspection must agree with loading on what is malformed.
 */
class ClassificationDataFuzzTest {
    static final String CSV = """
            text,label
            "I was charged twice for my subscription this month, please refund one of the payments",billing
            "Why did my invoice go up from $12 to $19 without any notice?",billing
            I cannot log in after resetting my password,account
            "Two-factor codes never arrive by SMS, what now?",account
            """;
    static final String ARFF = """
            % Reuters-style ARFF, as Weka writes it
            @relation 'Reuters-21578 Corn'

            @attribute Text string
            @attribute class-att {0,1}

            @data

            'CORN EXPORTS RISE\\nUSDA said corn export inspections rose.',1
            'BAHIA COCOA REVIEW Showers continued throughout the week.',0
            "U.S. WHEAT \\"TENDER\\" for Egypt",0
            'Corn futures closed higher',1
            """;

    @TempDir
    Path dir;

    @Test
    void csvRows() throws Exception {
        run("classification-csv", 31, "train.csv", "text", "label", m -> m.lines(CSV, ','));
    }

    @Test
    void arffRows() throws Exception {
        run("classification-arff", 32, "train.arff", "Text", "class-att", m -> m.lines(ARFF, m.pick(',', ' ')));
    }

    @Test
    void jsonlRows() throws Exception {
        ObjectMapper json = new ObjectMapper();
        List<JsonNode> rows = new ArrayList<>();
        for (String l : List.of("{\"text\": \"refund please\", \"label\": \"billing\"}", "{\"text\": \"cannot log in\", \"label\": \"account\"}",
                "{\"text\": \"great product\", \"label\": 1}", "{\"text\": \"broken on arrival\", \"label\": 0}")) {
            rows.add(json.readTree(l));
        }
        run("classification-jsonl", 33, "train.jsonl", "text", "label", m -> m.jsonLines(rows));
    }

    /** Inputs the fuzzer found that leaked a raw exception before the fix. */
    @Test
    void keptCases() throws Exception {
        try (FuzzCampaign c = new FuzzCampaign("classification-kept", 0, dir, DataException.class)) {
            byte[] notUtf8 = ARFF.getBytes(StandardCharsets.UTF_8);
            notUtf8[ARFF.indexOf("USDA")] = (byte) 0xff;
            assertEquals("train.arff:9: not UTF-8 text", refused(c, "train.arff", notUtf8));
            assertEquals("train.arff:4: @attribute needs a name and a type", refused(c, "train.arff",
                    ARFF.replace("@attribute Text string", "@attribute").getBytes(StandardCharsets.UTF_8)));
        }
    }

    private String refused(FuzzCampaign c, String name, byte[] content) throws Exception {
        Path file = Files.write(Files.createTempDirectory(dir, "kept").resolve(name), content);
        return c.check(new FuzzCampaign.Case(file, () -> loadAndInspect(file, "Text", "class-att", 1)));
    }

    interface Input {
        byte[] bytes(Mutator m) throws Exception;
    }

    private void run(String parser, long seed, String name, String textColumn, String labelColumn, Input input) throws Exception {
        try (FuzzCampaign campaign = new FuzzCampaign(parser, seed, dir, DataException.class)) {
            FuzzCampaign.Totals t = campaign.run(FuzzCampaign.rounds(150), (m, round) -> {
                Path file = round.resolve(name);
                Files.write(file, input.bytes(m));
                long sampleSeed = m.random().nextLong();
                return new FuzzCampaign.Case(file, () -> loadAndInspect(file, textColumn, labelColumn, sampleSeed));
            });
            FuzzCampaign.assertBothOutcomes(t, 0.1, 0.2);
        }
    }

    private static void loadAndInspect(Path file, String textColumn, String labelColumn, long seed) throws Exception {
        DataException inspectRefused = null;
        try {
            DataInspection.classification(file, null, null, textColumn, labelColumn).lines();
        } catch (DataException e) {
            inspectRefused = e;
        }
        ClassificationData data;
        try {
            data = ClassificationData.load(file, textColumn, labelColumn);
        } catch (DataException e) {
            assertEquals(String.valueOf(inspectRefused == null ? null : inspectRefused.getMessage()), e.getMessage(),
                    "inspect and load disagree");
            throw e;
        }
        if (inspectRefused != null) {
            throw new AssertionError("loading accepted what inspect refused: " + inspectRefused.getMessage());
        }
        assertFalse(data.rows().isEmpty());
        FewShotSampler.sample(data.rows(), 8, seed, w -> { });
        data.dedup(true).balance(seed % 2 == 0 ? "oversample" : "undersample", seed).describeCounts();
    }
}
