package ai.attune.runtime.data;

import ai.attune.api.data.DataException;
import ai.attune.api.data.Example;
import ai.attune.api.spi.Kind;
import ai.attune.runtime.host.PluginCatalog;
import ai.attune.runtime.host.StaticCatalog;
import ai.attune.runtime.text.Tokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static ai.attune.runtime.data.TrainingDataTest.ONCE_UPON_A_TIME_COMMA;
import static ai.attune.runtime.data.TrainingDataTest.THERE_WAS_A_LITTLE_GIRL;
import static ai.attune.runtime.data.TrainingDataTest.concat;
import static ai.attune.runtime.data.TrainingDataTest.ignore;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * A format the runtime has never heard of ({@link QaFormat}), registered in the service registry as
 * a plugin's component would be: training data is read with it by name, and what it says a row is
 * decides empty rows, duplicates and labels. Ids are the stories260K tokenizer's known ones
 * (TrainingDataTest).
 */
class PluginFormatTest {
    @TempDir
    Path dir;

    final PluginCatalog registry = StaticCatalog.of(Map.of(Kind.DATA_FORMAT, Map.of("qa", new QaFormat())));

    @Test
    void trainingDataReadsWithAFormatFoundInTheRegistry() throws IOException {
        Path f = dir.resolve("qa.jsonl");
        String row = "{\"question\": \"Once upon a time,\", \"answer\": \" there was a little girl named Lily.\"}";
        Files.writeString(f, row + "\n{\"question\": \"Once upon a time,\", \"answer\": \"\", \"id\": 2}\n"
                + "{\"question\": \"\", \"answer\": \"\"}\n" + row + "\n");
        TrainingData data;
        try (Tokenizer tok = Tokenizer.load(TrainingDataTest.STORIES)) {
            data = TrainingData.load(f, new DataSpec("qa", 64, false, true, null), DataFormats.find(registry, "qa", "data.format"), tok, 512, 512);
        }
        // Row 1: BOS + the question (no loss), then the answer (loss), no EOS.
        Example e = data.examples().getFirst();
        assertArrayEquals(concat(new long[] {1}, ONCE_UPON_A_TIME_COMMA, THERE_WAS_A_LITTLE_GIRL), e.inputIds());
        assertArrayEquals(concat(ignore(6), THERE_WAS_A_LITTLE_GIRL), e.labels());
        // Row 2 has no answer, so nothing to learn; row 3 is empty by the format's text; row 4 repeats row 1.
        assertEquals(1, data.examples().size());
        assertEquals(List.of(
                "read 4 rows from qa.jsonl (format qa)",
                "skipped 1 empty row (line 3)",
                "dedup: removed 1 exact duplicate (line 4 = line 1) and 0 near duplicates (MinHash Jaccard >= 0.8) of 3 rows",
                "dropped 1 row with no token to learn from (all labels -100; line 2)",
                "1 example, 16 tokens, 10 with loss"), data.log());
    }

    @Test
    void aFormatThatIsNotInstalledIsOneLineNamingTheInstalledOnes() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> DataFormats.find(registry, "chat", "data.format"));
        assertEquals("data.format 'chat' is not installed; installed: [qa]", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> DataFormats.find(registry, "classification", "--format"));
        assertEquals("--format 'classification' is data for a classifier method, not for language-model training; installed formats: [qa]",
                e.getMessage());
    }

    @Test
    void aRowTheFormatRefusesNamesItsLine() throws IOException {
        Path f = dir.resolve("qa.jsonl");
        Files.writeString(f, "{\"question\": \"a\", \"answer\": \"b\"}\n{\"question\": \"a\", \"reply\": \"b\"}\n");
        try (Tokenizer tok = Tokenizer.load(TrainingDataTest.STORIES)) {
            DataException e = assertThrows(DataException.class, () -> TrainingData.load(f, new DataSpec("qa", 64, false, false, null),
                    DataFormats.find(registry, "qa", "data.format"), tok, 512, 512));
            assertEquals("qa.jsonl:2: missing \"answer\" (a string); the row has question, reply", e.getMessage());
        }
    }
}
