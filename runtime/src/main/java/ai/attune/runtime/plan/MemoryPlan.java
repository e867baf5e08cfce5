package ai.attune.runtime.plan;

import java.util.List;

/**
 * A planned training step's memory at its peak: rows that add up to the total, the moment the
 * peak falls on, and the activations the other way round (with checkpointing when it is off, and
 * without when it is on), for comparison.
 *
 * @param rows            component rows; their bytes sum to {@link #total()}
 * @param alternative     the activations row with gradient checkpointing toggled (not in the total)
 * @param alternativeTotal the total with gradient checkpointing toggled
 */
public record MemoryPlan(ModelShape model, TrainingSetup setup, List<Row> rows, Phase peak, Row alternative, long alternativeTotal) {

    /** One line of the table: a component, what it holds, and its bytes. */
    public record Row(String component, String detail, long bytes) {}

    /** When in a step the most memory is in use. */
    public enum Phase {
        TURN("the turn from forward to backward (all activations, logits and their gradient)"),
        BLOCK_BACKWARD("backward through a recomputed block"),
        OPTIMIZER_STEP("the optimizer step");

        private final String description;

        Phase(String description) {
            this.description = description;
        }

        public String description() {
            return description;
        }
    }

    public MemoryPlan {
        rows = List.copyOf(rows);
    }

    public long total() {
        return rows.stream().mapToLong(Row::bytes).sum();
    }

    /** The bytes of the first row of {@code component}, or 0. */
    public long bytes(String component) {
        return rows.stream().filter(r -> r.component().equals(component)).mapToLong(Row::bytes).sum();
    }
}
