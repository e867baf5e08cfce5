package ai.attune.runtime.data;

import ai.attune.api.data.DataException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Classification rows, class counts and balancing, on the real Reuters acq/crude file and a crafted one. */
class ClassificationDataTest {
    // r-cran-tm's acq and crude corpora: 50 acquisition and 20 crude-oil articles.
    static final Path REUTERS = Path.of("../../shared/data/reuters/reuters_tm_acq_crude.csv");

    @TempDir
    Path dir;

    @Test
    void reutersCountsAndLines() throws IOException {
        ClassificationData d = ClassificationData.load(REUTERS, "text", "label");
        assertEquals(70, d.rows().size());
        assertEquals(Map.of("acq", 50, "crude", 20), d.counts());
        assertEquals(List.of("acq", "crude"), List.copyOf(d.counts().keySet()));
        assertEquals(List.of("read 70 rows from reuters_tm_acq_crude.csv: 2 classes: acq 50, crude 20"), d.log());
        // Records span lines; each row's line is where its record starts (grep -n '^"' on the file).
        assertEquals(List.of(2, 27, 44, 54), d.rows().subList(0, 4).stream().map(ClassificationData.LabeledText::line).toList());
        assertTrue(d.rows().getFirst().text().startsWith("Computer Terminal Systems Inc said\nit has completed the sale"));
    }

    @Test
    void reutersBalanced() throws IOException {
        ClassificationData d = ClassificationData.load(REUTERS, "text", "label");
        ClassificationData over = d.balance("oversample", 1);
        assertEquals(Map.of("acq", 50, "crude", 50), over.counts());
        assertEquals("balance (oversample): acq 50 -> 50, crude 20 -> 50 (70 -> 100 rows)", over.log().getLast());
        ClassificationData under = d.balance("undersample", 1);
        assertEquals(Map.of("acq", 20, "crude", 20), under.counts());
        assertEquals("balance (undersample): acq 50 -> 20, crude 20 -> 20 (70 -> 40 rows)", under.log().getLast());
    }

    @Test
    void balanceIsEvenAndDeterministic() throws IOException {
        Path f = dir.resolve("c.jsonl");
        StringBuilder b = new StringBuilder();
        String[] labels = {"a", "a", "b", "a", "c", "a", "c", "a", "b", "c", "a"}; // a 6, c 3, b 2
        for (int i = 0; i < labels.length; i++) {
            b.append("{\"text\": \"row ").append(i).append("\", \"label\": \"").append(labels[i]).append("\"}\n");
        }
        Files.writeString(f, b);
        ClassificationData d = ClassificationData.load(f, "text", "label");
        assertEquals(List.of("a", "c", "b"), List.copyOf(d.counts().keySet()));

        ClassificationData over = d.balance("oversample", 42);
        assertEquals(Map.of("a", 6, "b", 6, "c", 6), over.counts());
        assertEquals("balance (oversample): a 6 -> 6, c 3 -> 6, b 2 -> 6 (11 -> 18 rows)", over.log().getLast());
        assertEquals(d.rows(), over.rows().subList(0, 11), "the original rows first, in file order");
        Map<Integer, Integer> copies = new LinkedHashMap<>();
        over.rows().forEach(r -> copies.merge(r.line(), 1, Integer::sum));
        assertEquals(3, copies.get(3)); // each b row three times, each c row twice, each a row once
        assertEquals(3, copies.get(9));
        assertEquals(List.of(2, 2, 2), List.of(copies.get(5), copies.get(7), copies.get(10)));
        assertEquals(over.rows(), d.balance("oversample", 42).rows(), "same seed, same rows");

        ClassificationData under = d.balance("undersample", 42);
        assertEquals(Map.of("a", 2, "b", 2, "c", 2), under.counts());
        List<Integer> lines = under.rows().stream().map(ClassificationData.LabeledText::line).toList();
        assertEquals(lines.stream().sorted().toList(), lines, "kept rows stay in file order");
        assertEquals(under.rows(), d.balance("undersample", 42).rows(), "same seed, same rows");
        assertEquals(d, d.balance(null, 42));
    }

    @Test
    void dedupOnTexts() throws IOException {
        Path f = dir.resolve("d.csv");
        Files.writeString(f, "text,label\nWhales sing long songs under the sea,a\nwhales sing long songs under the sea!,b\nBoats sail,a\n");
        ClassificationData d = ClassificationData.load(f, "text", "label");
        assertEquals(2, d.dedup(true).rows().size());
        assertEquals(3, d.dedup(false).rows().size());
        assertEquals("dedup: removed 0 exact duplicates and 1 near duplicate (line 3 ~ line 2) (MinHash Jaccard >= 0.8) of 3 rows",
                d.dedup(true).log().getLast());
    }

    @Test
    void columnsAndErrors() throws IOException {
        Path f = dir.resolve("n.jsonl");
        Files.writeString(f, "{\"sentence\": \"good\", \"y\": 1}\n{\"sentence\": \"bad\", \"y\": 0}\n");
        assertEquals(Map.of("1", 1, "0", 1), ClassificationData.load(f, "sentence", "y").counts());
        DataException e = assertThrows(DataException.class, () -> ClassificationData.load(f, "text", "y"));
        assertEquals("n.jsonl:1: missing \"text\" (a string); the row has sentence, y", e.getMessage());

        Path c = dir.resolve("c.csv");
        Files.writeString(c, "text,label\n\"multi\nline\",a\n\nsecond,\n");
        e = assertThrows(DataException.class, () -> ClassificationData.load(c, "text", "label"));
        assertEquals("c.csv:5: \"label\" is empty; every row needs a class", e.getMessage());

        Path extra = dir.resolve("x.csv");
        Files.writeString(extra, "text,label\nfine,a\nnot,fine,here\n");
        e = assertThrows(DataException.class, () -> ClassificationData.load(extra, "text", "label"));
        assertTrue(e.getMessage().startsWith("x.csv:3: not valid CSV: "), e.getMessage());
    }
}
