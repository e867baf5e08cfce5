package ai.attune.runtime.train;

import ai.attune.api.spi.ClassifierContext;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

import java.io.PrintWriter;

/**
 * Progress of one stage of a run (training steps, embedding, scoring): a bar with ETA on a
 * terminal, else a plain line at every tenth, since a bar redrawn into a log file is noise.
 */
public final class StageProgress implements ClassifierContext.Stage {
    private final String task;
    private final long total;
    private final ProgressBar bar;
    private final PrintWriter plain;
    private long done;
    private long lastPrinted = -1;

    public StageProgress(String task, long total, PrintWriter err) {
        this.task = task;
        this.total = total;
        if (System.console() != null) {
            this.bar = new ProgressBarBuilder().setTaskName(task).setInitialMax(total).setStyle(ProgressBarStyle.ASCII)
                    .setUpdateIntervalMillis(250).continuousUpdate().build();
            this.plain = null;
        } else {
            this.bar = null;
            this.plain = err;
        }
    }

    @Override
    public void advance(long n, String extra) {
        stepTo(done + n, extra);
    }

    /** {@code done} units done in all; {@code extra} (e.g. the loss) is shown beside the count, or null. */
    public void stepTo(long done, String extra) {
        this.done = done;
        if (bar != null) {
            bar.stepTo(done);
            if (extra != null) {
                bar.setExtraMessage(extra);
            }
        } else if (done == total || done / Math.max(1, total / 10) != lastPrinted) {
            lastPrinted = done / Math.max(1, total / 10);
            plain.printf("%s %d/%d%s%n", task, done, total, extra == null ? "" : " " + extra);
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
