package ai.attune.plugins.setfit;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

/**
 * The order in which a triplet loss sees the texts, as sentence-transformers'
 * {@code SentenceLabelDataset} draws it: labels visited in a shuffled round, each giving its next
 * {@code samplesPerLabel} unseen texts, so every batch holds positives for its anchors. Labels with
 * fewer than {@code samplesPerLabel} texts are left out, and a label stops when fewer remain.
 */
final class LabelBatches {
    private LabelBatches() {}

    /** Text indices of one epoch, in drawing order. */
    static List<Integer> order(int[] labels, int samplesPerLabel, Random random) {
        Map<Integer, List<Integer>> byLabel = new TreeMap<>();
        for (int i = 0; i < labels.length; i++) {
            byLabel.computeIfAbsent(labels[i], k -> new ArrayList<>()).add(i);
        }
        List<List<Integer>> groups = new ArrayList<>();
        for (List<Integer> g : byLabel.values()) {
            if (g.size() >= samplesPerLabel) {
                Collections.shuffle(g, random);
                groups.add(g);
            }
        }
        int[] next = new int[groups.size()];
        List<Integer> out = new ArrayList<>();
        boolean drew = true;
        while (drew) {
            drew = false;
            List<Integer> round = new ArrayList<>();
            for (int k = 0; k < groups.size(); k++) {
                round.add(k);
            }
            Collections.shuffle(round, random);
            for (int k : round) {
                List<Integer> g = groups.get(k);
                if (g.size() - next[k] >= samplesPerLabel) {
                    out.addAll(g.subList(next[k], next[k] + samplesPerLabel));
                    next[k] += samplesPerLabel;
                    drew = true;
                }
            }
        }
        return out;
    }
}
