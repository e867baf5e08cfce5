package ai.attune.runtime.train;

import ai.attune.api.spi.Optimizer;

import java.util.List;

/**
 * How the outside steers a running job at step boundaries, where no tensor is half-updated: the
 * lab server pauses (by blocking here), cancels (by throwing), hands over {@link ControlCommand}s
 * and swaps a replaced optimizer plugin in. The command line uses {@link #NONE}.
 */
public interface StepControl {
    StepControl NONE = new StepControl() { };

    /**
     * Before each step: true to take it. May block while the job is paused, and returns false when
     * commands arrive meanwhile, so they are applied before it is asked again. Throws
     * {@link java.util.concurrent.CancellationException} to stop the job.
     */
    default boolean beforeStep(long step) throws InterruptedException {
        return true;
    }

    /** The commands received since the last call, oldest first. */
    default List<ControlCommand> commands() {
        return List.of();
    }

    /** The optimizer for the coming step: {@code current}, or the plugin that replaced it. */
    default Optimizer<Object> optimizer(Optimizer<Object> current) {
        return current;
    }
}
