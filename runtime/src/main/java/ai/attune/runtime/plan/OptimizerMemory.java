package ai.attune.runtime.plan;

import ai.attune.runtime.plan.ModelShape.Weight;
import ai.attune.runtime.plan.TrainingSetup.Optimizer;

import java.util.ArrayList;
import java.util.List;

/**
 * What each optimizer plugin keeps per trained tensor, in f32 like the parameters, and what one
 * step allocates on top (read from optim-adamw, optim-sgd and optim-adafactor).
 */
final class OptimizerMemory {
    /** A one-element f64 step count per tensor (AdamW, Adafactor), one pool granule each. */
    private static final long STEP_COUNT = Kept.granule(8);

    private OptimizerMemory() {}

    /** The state tensors of one trained tensor, in the order the plugin creates them. */
    static List<Long> stateTensors(Optimizer o, Weight w) {
        long full = f32(w.elements());
        return switch (o.name()) {
            case "adamw" -> o.amsgrad() ? List.of(STEP_COUNT, full, full, full) : List.of(STEP_COUNT, full, full); // exp_avg, exp_avg_sq (, max)
            case "sgd" -> o.momentum() != 0 ? List.of(full) : List.of(); // momentum_buffer
            case "adafactor" -> { // a matrix keeps exp_avg_sq_row [rows] and exp_avg_sq_col [cols] instead of a full second moment
                List<Long> s = new ArrayList<>(List.of(STEP_COUNT));
                s.addAll(w.matrix() ? List.of(f32(w.rows()), f32(w.cols())) : List.of(full));
                if (o.beta1() != null) {
                    s.add(full); // exp_avg
                }
                yield s;
            }
            default -> throw new IllegalArgumentException(unknown(o));
        };
    }

    /** The optimizer's persistent state for {@code trained}. */
    static long state(Optimizer o, List<Weight> trained) {
        return trained.stream().flatMap(w -> stateTensors(o, w).stream()).mapToLong(Long::longValue).sum();
    }

    /** The work tensors of one step, alive only while it runs. */
    static List<Long> workTensors(Optimizer o, List<Weight> trained) {
        long largest = f32(trained.stream().mapToLong(Weight::elements).max().orElse(0));
        return switch (o.name()) {
            case "adamw" -> List.of(largest); // WorkBuffers: one temporary as large as the largest tensor
            case "adafactor" -> List.of(largest, largest); // WorkBuffers: the update and a scratch
            case "sgd" -> { // one scope for the whole step: d_p for every tensor, and the decay and momentum temporaries
                int per = 1 + (o.weightDecay() ? 1 : 0) + (o.momentum() != 0 ? 1 : 0) + (o.nesterov() ? 1 : 0);
                List<Long> out = new ArrayList<>();
                for (Weight w : trained) {
                    for (int i = 0; i < per; i++) {
                        out.add(f32(w.elements()));
                    }
                }
                yield out;
            }
            default -> throw new IllegalArgumentException(unknown(o));
        };
    }

    static long stepWork(Optimizer o, List<Weight> trained) {
        return workTensors(o, trained).stream().mapToLong(Long::longValue).sum();
    }

    static String describe(Optimizer o) {
        return switch (o.name()) {
            case "adamw" -> o.amsgrad() ? "adamw: exp_avg, exp_avg_sq, max_exp_avg_sq" : "adamw: exp_avg, exp_avg_sq";
            case "sgd" -> o.momentum() != 0 ? "sgd: momentum_buffer" : "sgd: none";
            case "adafactor" -> "adafactor: factored exp_avg_sq" + (o.beta1() != null ? ", exp_avg" : "");
            default -> throw new IllegalArgumentException(unknown(o));
        };
    }

    static String unknown(Optimizer o) {
        return "optimizer '" + o.name() + "': the memory planner knows adamw, sgd and adafactor";
    }

    private static long f32(long elements) {
        return Kept.granule(4 * elements);
    }
}
