package ai.attune.runtime.server;

import ai.attune.api.spi.Optimizer;
import ai.attune.runtime.train.ControlCommand;
import ai.attune.runtime.train.StepControl;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CancellationException;

/**
 * Steers one running job at its step boundaries: blocks the job's thread while paused, throws
 * when cancelled, hands over control commands, and hands over an optimizer plugin that replaced
 * the one the job started with. A job whose method, data format, backend or memory strategy
 * departs saves a checkpoint and waits; when the plugin is back it {@link Restart}s from that
 * checkpoint on the new plugin's code.
 */
final class JobControl implements StepControl {
    /** Thrown at the step boundary once every departed plugin is back: the job runs again from its latest checkpoint. */
    static final class Restart extends CancellationException {
        Restart(String why) {
            super(why);
        }
    }

    private boolean paused;
    private boolean cancelled;
    private boolean reachedStep;
    private String restart;
    private final List<ControlCommand> commands = new ArrayList<>();
    private final Set<String> missing = new TreeSet<>();
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

    /** Queues a command for the next step boundary, waking a paused job so it is recorded there. */
    synchronized void command(ControlCommand c) {
        commands.add(c);
        notifyAll();
    }

    /** A plugin the job runs on went away ({@code "method 'lora'"}): checkpoint at the boundary, then wait. */
    synchronized void hold(String plugin) {
        missing.add(plugin);
        commands.add(ControlCommand.checkpoint());
        paused = true;
        notifyAll();
    }

    /** A departed plugin is back; once all are, the job restarts from its checkpoint. Returns whether it does. */
    synchronized boolean returned(String plugin) {
        if (!missing.remove(plugin) || !missing.isEmpty()) {
            return false;
        }
        restart = plugin + " is back";
        notifyAll();
        return true;
    }

    /** The departed plugins the job waits for. */
    synchronized Set<String> missing() {
        return Set.copyOf(missing);
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
    public synchronized boolean beforeStep(long step) throws InterruptedException {
        reachedStep = true;
        while (paused && !cancelled && restart == null && commands.isEmpty()) {
            wait();
        }
        if (cancelled) {
            throw new CancellationException("cancelled before step " + (step + 1));
        }
        if (!commands.isEmpty()) {
            return false;
        }
        if (restart != null) {
            throw new Restart(restart);
        }
        return true;
    }

    @Override
    public synchronized List<ControlCommand> commands() {
        List<ControlCommand> out = List.copyOf(commands);
        commands.clear();
        return out;
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
