package ai.attune.plugins.setfit;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

class LabelBatchesTest {
    @Test
    void drawsTwoOfALabelAtATimeAndLeavesOutLabelsTooSmall() {
        int[] labels = {0, 0, 0, 0, 0, 1, 1, 1, 1, 2};
        List<Integer> order = LabelBatches.order(labels, 2, new Random(7));
        // label 0: two groups of 2 (one text left over), label 1: two groups, label 2: too small.
        assertEquals(8, order.size());
        assertEquals(8, order.stream().distinct().count());
        assertFalse(order.contains(9));
        for (int i = 0; i < order.size(); i += 2) {
            assertEquals(labels[order.get(i)], labels[order.get(i + 1)], "group at " + i);
        }
        // Every round visits each label that still has a group: the first two groups are of different labels.
        assertFalse(labels[order.get(0)] == labels[order.get(2)]);
    }
}
