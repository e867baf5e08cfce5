package ai.attune.runtime.data;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Exact and near duplicates on a crafted file; MinHash estimates against exact Jaccard similarities. */
class DuplicatesTest {
    static final String A = "The old sailor walked along the harbour every morning and counted the boats that had come in during the night";
    static final String B = "Every morning the baker counted the loaves he had baked during the night before opening his shop";
    static final String C = "Whales sing long songs that carry for many miles under the cold grey sea";

    @TempDir
    Path dir;

    @Test
    void crafted() throws IOException {
        List<String> rows = List.of(
                A,                                     // line 1
                "  " + A.replace(" and ", "   and\t") + " ",  // line 2: A up to whitespace: exact
                B,                                     // line 3: shares "counted the", "during the night": not a duplicate
                A.toUpperCase() + "!",                 // line 4: A up to case and punctuation: near (Jaccard 1)
                A + " again",                          // line 5: one more word: near (Jaccard 16/17)
                C,                                     // line 6
                C);                                    // line 7: exact
        List<Duplicates.Verdict> v = Duplicates.find(rows);
        assertEquals(List.of(new Duplicates.Verdict(Duplicates.Kind.UNIQUE, -1), new Duplicates.Verdict(Duplicates.Kind.EXACT, 0),
                new Duplicates.Verdict(Duplicates.Kind.UNIQUE, -1), new Duplicates.Verdict(Duplicates.Kind.NEAR, 0),
                new Duplicates.Verdict(Duplicates.Kind.NEAR, 0), new Duplicates.Verdict(Duplicates.Kind.UNIQUE, -1),
                new Duplicates.Verdict(Duplicates.Kind.EXACT, 5)), v);
        assertEquals(new Duplicates.Counts(2, 2), Duplicates.count(v));
        assertEquals(16.0 / 17, jaccard(A, A + " again"), 1e-12);
        assertEquals(0.0, jaccard(A, B));
    }

    @Test
    void trainingRemovesThemWhenAskedAndReportsThemAlways() throws IOException {
        Path f = dir.resolve("d.jsonl");
        StringBuilder b = new StringBuilder();
        for (String t : List.of(A, A + "  ", B, A.toUpperCase() + "!", A + " again", C, C)) {
            b.append("{\"text\": \"").append(t).append("\"}\n");
        }
        Files.writeString(f, b);
        try (var tok = ai.attune.runtime.text.Tokenizer.load(TrainingDataTest.STORIES)) {
            var kept = TrainingData.load(f, new DataSpec("text", 512, false, true, null), ShippedFormats.get("text"), tok, 512, 512);
            assertEquals(3, kept.examples().size());
            assertEquals("dedup: removed 2 exact duplicates (line 2 = line 1, line 7 = line 6) and 2 near duplicates (line 4 ~ line 1,"
                    + " line 5 ~ line 1) (MinHash Jaccard >= 0.8) of 7 rows", kept.log().get(1));
            var all = TrainingData.load(f, new DataSpec("text", 512, false, false, null), ShippedFormats.get("text"), tok, 512, 512);
            assertEquals(7, all.examples().size());
            assertTrue(all.log().get(1).startsWith("dedup: found 2 exact duplicates"), all.log().get(1));
            assertTrue(all.log().get(1).endsWith("of 7 rows; kept them (data.dedup is off)"), all.log().get(1));
        }
    }

    @Test
    void shortTextsCompareCharacterShingles() {
        assertEquals(Set.of("hello", "ello ", "llo t", "lo th", "o the", " ther", "there"), MinHash.shingles("Hello, there!"));
        List<Duplicates.Verdict> v = Duplicates.find(List.of("Hello, there!", "hello there", "Hello, where?"));
        assertEquals(Duplicates.Kind.NEAR, v.get(1).kind());
        assertEquals(Duplicates.Kind.UNIQUE, v.get(2).kind()); // 3 of 11 shingles shared
    }

    @Test
    void minHashEstimatesJaccard() {
        // 60 distinct words; the second text replaces a growing tail of them, which lowers the true
        // similarity step by step. 128 permutations give a standard error of at most 0.045.
        String[] words = new String[60];
        for (int i = 0; i < words.length; i++) {
            words[i] = "w" + i;
        }
        MinHash mh = new MinHash(7);
        for (int changed : new int[] {0, 3, 10, 20, 40}) {
            String[] other = words.clone();
            for (int i = words.length - changed; i < words.length; i++) {
                other[i] = "x" + i;
            }
            String a = String.join(" ", words);
            String b = String.join(" ", other);
            double exact = jaccard(a, b);
            double estimate = MinHash.similarity(mh.signature(a), mh.signature(b));
            assertEquals(exact, estimate, 0.15, "changed " + changed);
        }
    }

    static double jaccard(String a, String b) {
        Set<String> sa = MinHash.shingles(a);
        Set<String> sb = MinHash.shingles(b);
        Set<String> both = new HashSet<>(sa);
        both.retainAll(sb);
        Set<String> either = new HashSet<>(sa);
        either.addAll(sb);
        return (double) both.size() / either.size();
    }
}
