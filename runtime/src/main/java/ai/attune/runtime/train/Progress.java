package ai.attune.runtime.train;

import com.fasterxml.jackson.databind.node.ObjectNode;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

import java.io.PrintWriter;
import java.util.function.Consumer;

/**
 * The console view of a run: a progress bar with ETA, loss and tokens/s when a terminal is
 * attached; otherwise a plain line every tenth of the run, since a bar redrawn into a log file is
 * noise. events.jsonl stays the record either way.
 */
public final class Progress implements Consumer<ObjectNode>, AutoCloseable {
    private final ProgressBar bar;
    private final PrintWriter plain;
    private final long total;

    public Progress(long total, PrintWriter err) {
        this.total = total;
        if (System.console() != null) {
            this.bar = new ProgressBarBuilder().setTaskName("train").setInitialMax(total).setStyle(ProgressBarStyle.ASCII)
                    .setUpdateIntervalMillis(250).continuousUpdate().build();
            this.plain = null;
        } else {
            this.bar = null;
            this.plain = err;
        }
    }

    @Override
    public void accept(ObjectNode e) {
        long step = e.path("step").asLong();
        String extra = String.format("loss %.4f, %.0f tok/s", e.path("loss").asDouble(), e.path("tokens_per_second").asDouble());
        if (bar != null) {
            bar.stepTo(step);
            bar.setExtraMessage(extra);
        } else if (step == total || step % Math.max(1, total / 10) == 0) {
            plain.printf("step %d/%d: %s%n", step, total, extra);
            plain.flush();
        }
    }

    @Override
    public void close() {
        if (bar != null) {
            bar.close();
        }
    }
}
