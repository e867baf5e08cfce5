package ai.attune.runtime.train;

import ai.attune.api.spi.Optimizer;

/**
 * How the outside steers a running job at step boundaries, where no tensor is half-updated: the
 * lab server pauses (by blocking here), cancels (by throwing) and swaps a replaced optimizer
 * plugin in. The command line uses {@link #NONE}.
 */
public interface StepControl {
    StepControl NONE = new StepControl() { };

    /** Before each step: may block while the job is paused; throws {@link java.util.concurrent.CancellationException} to stop it. */
    default void beforeStep(long step) throws InterruptedException {}

    /** The optimizer for the coming step: {@code current}, or the plugin that replaced it. */
    default Optimizer<Object> optimizer(Optimizer<Object> current) {
        return current;
    }
}
