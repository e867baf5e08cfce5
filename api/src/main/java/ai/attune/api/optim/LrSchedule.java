package ai.attune.api.optim;

import java.util.List;
import java.util.function.IntToDoubleFunction;

/**
 * A learning-rate schedule as transformers' {@code get_scheduler(name, optimizer,
 * num_warmup_steps, num_training_steps)} builds it: a {@code LambdaLR} whose multiplier of the base
 * lr is a function of the number of {@code scheduler.step()} calls made so far. {@link #lr(int)}
 * takes that count, so optimizer step 0 (the first) uses multiplier(0), which is 0 during warmup.
 * Immutable: the trainer passes the step, nothing here counts.
 */
public final class LrSchedule {
    /** The names {@link #of} knows, as transformers' {@code SchedulerType} spells them. */
    public static final List<String> NAMES =
            List.of("constant", "constant_with_warmup", "linear", "cosine", "cosine_with_restarts", "polynomial");

    private final String name;
    private final double baseLr;
    private final IntToDoubleFunction multiplier;

    private LrSchedule(String name, double baseLr, IntToDoubleFunction multiplier) {
        if (!(baseLr >= 0) || Double.isInfinite(baseLr)) {
            throw new IllegalArgumentException("lr must be a finite number >= 0, got " + baseLr);
        }
        this.name = name;
        this.baseLr = baseLr;
        this.multiplier = multiplier;
    }

    /**
     * The schedule {@code name} with transformers' defaults ({@code num_cycles} 0.5 for cosine, 1
     * for cosine_with_restarts; {@code lr_end} 1e-7 and {@code power} 1 for polynomial).
     * "constant" ignores the warmup, as transformers' does.
     */
    public static LrSchedule of(String name, double baseLr, int warmupSteps, int totalSteps) {
        if (name == null || !NAMES.contains(name)) {
            throw new IllegalArgumentException("unknown lr schedule '" + name + "'; known: " + String.join(", ", NAMES));
        }
        return switch (name) {
            case "constant" -> new LrSchedule(name, baseLr, step -> 1.0);
            case "constant_with_warmup" -> constantWithWarmup(baseLr, warmupSteps);
            case "linear" -> linear(baseLr, warmupSteps, totalSteps);
            case "cosine" -> cosine(baseLr, warmupSteps, totalSteps, 0.5);
            case "cosine_with_restarts" -> cosineWithRestarts(baseLr, warmupSteps, totalSteps, 1);
            default -> polynomial(baseLr, warmupSteps, totalSteps, 1e-7, 1.0);
        };
    }

    /** Linear warmup from 0, then the base lr. */
    public static LrSchedule constantWithWarmup(double baseLr, int warmupSteps) {
        checkSteps(warmupSteps, warmupSteps);
        return new LrSchedule("constant_with_warmup", baseLr,
                step -> step < warmupSteps ? warmup(step, warmupSteps) : 1.0);
    }

    /** Linear warmup, then a linear decay that reaches 0 at {@code totalSteps}. */
    public static LrSchedule linear(double baseLr, int warmupSteps, int totalSteps) {
        checkSteps(warmupSteps, totalSteps);
        return new LrSchedule("linear", baseLr, step -> step < warmupSteps
                ? warmup(step, warmupSteps)
                : Math.max(0.0, (double) (totalSteps - step) / Math.max(1, totalSteps - warmupSteps)));
    }

    /** Linear warmup, then {@code numCycles} cosine waves; 0.5 is the usual half wave from the base lr to 0. */
    public static LrSchedule cosine(double baseLr, int warmupSteps, int totalSteps, double numCycles) {
        checkSteps(warmupSteps, totalSteps);
        return new LrSchedule("cosine", baseLr, step -> {
            if (step < warmupSteps) {
                return warmup(step, warmupSteps);
            }
            double progress = progress(step, warmupSteps, totalSteps);
            return Math.max(0.0, 0.5 * (1.0 + Math.cos(Math.PI * numCycles * 2.0 * progress)));
        });
    }

    /** Linear warmup, then {@code numCycles} half-cosine decays, each restarting at the base lr; 0 from {@code totalSteps} on. */
    public static LrSchedule cosineWithRestarts(double baseLr, int warmupSteps, int totalSteps, int numCycles) {
        checkSteps(warmupSteps, totalSteps);
        return new LrSchedule("cosine_with_restarts", baseLr, step -> {
            if (step < warmupSteps) {
                return warmup(step, warmupSteps);
            }
            double progress = progress(step, warmupSteps, totalSteps);
            if (progress >= 1.0) {
                return 0.0;
            }
            return Math.max(0.0, 0.5 * (1.0 + Math.cos(Math.PI * ((numCycles * progress) % 1.0))));
        });
    }

    /**
     * Linear warmup, then {@code lr = (base - lrEnd) * (1 - progress)^power + lrEnd}, and
     * {@code lrEnd} after {@code totalSteps}. Where transformers would divide by zero (warmup equal
     * to total) the decay counts as finished.
     */
    public static LrSchedule polynomial(double baseLr, int warmupSteps, int totalSteps, double lrEnd, double power) {
        checkSteps(warmupSteps, totalSteps);
        if (!(baseLr > lrEnd)) {
            throw new IllegalArgumentException("polynomial schedule: lr_end (" + lrEnd + ") must be smaller than the lr (" + baseLr + ")");
        }
        return new LrSchedule("polynomial", baseLr, step -> {
            if (step < warmupSteps) {
                return warmup(step, warmupSteps);
            }
            int decaySteps = totalSteps - warmupSteps;
            if (step > totalSteps || decaySteps <= 0) {
                return lrEnd / baseLr;
            }
            double remaining = 1.0 - (double) (step - warmupSteps) / decaySteps;
            return ((baseLr - lrEnd) * Math.pow(remaining, power) + lrEnd) / baseLr;
        });
    }

    /** The learning rate for the optimizer step that follows {@code step} scheduler steps (0-based). */
    public double lr(int step) {
        return baseLr * multiplier(step);
    }

    /** LambdaLR's factor of the base lr at {@code step}. */
    public double multiplier(int step) {
        if (step < 0) {
            throw new IllegalArgumentException("lr schedule step must be >= 0, got " + step);
        }
        return multiplier.applyAsDouble(step);
    }

    public String name() {
        return name;
    }

    public double baseLr() {
        return baseLr;
    }

    @Override
    public String toString() {
        return "LrSchedule(" + name + ", lr " + baseLr + ")";
    }

    private static double warmup(int step, int warmupSteps) {
        return (double) step / Math.max(1, warmupSteps);
    }

    private static double progress(int step, int warmupSteps, int totalSteps) {
        return (double) (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps);
    }

    private static void checkSteps(int warmupSteps, int totalSteps) {
        if (warmupSteps < 0) {
            throw new IllegalArgumentException("warmup_steps must be >= 0, got " + warmupSteps);
        }
        if (totalSteps < 0) {
            throw new IllegalArgumentException("the total number of training steps must be >= 0, got " + totalSteps);
        }
    }
}
