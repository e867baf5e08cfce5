package ai.attune.runtime.server;

import ai.attune.api.spi.Optimizer;
import ai.attune.runtime.train.StepControl;

import java.util.concurrent.CancellationException;

/**
 * Steers one running job at its step boundaries: blocks the job's thread while paused, throws
 * when cancelled, and hands over an optimizer plugin that replaced the one the job started with.
 */
final class JobControl implements StepControl {
    private boolean paused;
    private boolean cancelled;
    private boolean reachedStep;
    private Optimizer<Object> current;
    private Optimizer<Object> replacement;

    synchronized void pause() {
        paused = true;
    }

    synchronized void resume() {
        paused = false;
        notifyAll();
    }

    synchronized void cancel() {
        cancelled = true;
        notifyAll();
    }

    /** Whether the job got as far as a step: false when its model, data or plugins failed to load. */
    synchronized boolean reachedStep() {
        return reachedStep;
    }

    synchronized boolean isPaused() {
        return paused;
    }

    /** The optimizer the job used at its last step, or null before the first. */
    synchronized Optimizer<Object> currentOptimizer() {
        return current;
    }

    /** Installs the plugin the job continues with, then lets it go on. */
    synchronized void swapOptimizer(Optimizer<Object> next) {
        replacement = next;
        resume();
    }

    @Override
    public synchronized void beforeStep(long step) throws InterruptedException {
        reachedStep = true;
        while (paused && !cancelled) {
            wait();
        }
        if (cancelled) {
            throw new CancellationException("cancelled before step " + (step + 1));
        }
    }

    @Override
    public synchronized Optimizer<Object> optimizer(Optimizer<Object> inUse) {
        if (replacement != null) {
            inUse = replacement;
            replacement = null;
        }
        current = inUse;
        return inUse;
    }
}
