package ai.attune.runtime.train;

import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.PrintWriter;
import java.util.function.Consumer;

/**
 * The console view of a training run: its step events shown as a {@link StageProgress} with the
 * loss and tokens/s. events.jsonl stays the record either way.
 */
public final class Progress implements Consumer<ObjectNode>, AutoCloseable {
    private final StageProgress stage;
    private final PrintWriter err;

    public Progress(long total, PrintWriter err) {
        this.stage = new StageProgress("train", total, err);
        this.err = err;
    }

    @Override
    public void accept(ObjectNode e) {
        if ("profile".equals(e.path("type").asText())) {
            err.println(); // below the bar, which the last step left on its line
            err.print(ProfileTable.fromJson(e).format());
            err.flush();
            return;
        }
        if (!"step".equals(e.path("type").asText())) {
            return; // metric, control and checkpoint events are for the record and the bus
        }
        stage.stepTo(e.path("step").asLong(), String.format("loss %.4f, %.0f tok/s", e.path("loss").asDouble(), e.path("tokens_per_second").asDouble()));
    }

    @Override
    public void close() {
        stage.close();
    }
}
