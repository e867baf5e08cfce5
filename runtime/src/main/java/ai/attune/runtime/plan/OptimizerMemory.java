package ai.attune.runtime.plan;

import ai.attune.runtime.plan.ModelShape.Weight;
import ai.attune.runtime.plan.TrainingSetup.Optimizer;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * What each optimizer plugin keeps per trained tensor, in f32 like the parameters unless it codes
 * its state, and what one step allocates on top (read from optim-adamw, optim-sgd,
 * optim-adafactor and optim-adamw8bit). Names a plugin also registers under (paged_adamw_32bit,
 * paged_adamw_8bit) are priced as the plugin.
 */
final class OptimizerMemory {
    /** A one-element f64 step count per tensor (AdamW, Adafactor, 8-bit AdamW), one pool granule each. */
    private static final long STEP_COUNT = Kept.granule(8);
    /** Elements per block of bitsandbytes' 8-bit optimizers: each block has its own f32 maximum per moment. */
    private static final long BLOCK_8BIT = 256;

    private OptimizerMemory() {}

    /** The state tensors of one trained tensor, in the order the plugin creates them. */
    static List<Long> stateTensors(Optimizer o, Weight w) {
        long full = f32(w.elements());
        return switch (o.name()) {
            case "adamw", "paged_adamw_32bit" -> o.amsgrad() ? List.of(STEP_COUNT, full, full, full) : List.of(STEP_COUNT, full, full); // exp_avg, exp_avg_sq (, max)
            case "adamw_8bit", "paged_adamw_8bit" -> { // state1, state2: u8 codes, then absmax1, absmax2; f32 state1, state2 below min_8bit_size
                if (w.elements() < o.min8bitSize()) {
                    yield List.of(STEP_COUNT, full, full);
                }
                long codes = Kept.granule(w.elements());
                long absmax = f32((w.elements() + BLOCK_8BIT - 1) / BLOCK_8BIT);
                yield List.of(STEP_COUNT, codes, codes, absmax, absmax);
            }
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
            // Backend.adamwStep's composed default: one temporary of the parameter's size at a time. The jvm
            // backend's fused pass for f32 weights allocates none, so this is an upper bound there.
            case "adamw", "paged_adamw_32bit" -> List.of(largest);
            case "adamw_8bit", "paged_adamw_8bit" -> List.of(); // the update runs through Java arrays, no tensor
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
            case "adamw", "paged_adamw_32bit" -> o.name() + (o.amsgrad() ? ": exp_avg, exp_avg_sq, max_exp_avg_sq" : ": exp_avg, exp_avg_sq");
            case "adamw_8bit", "paged_adamw_8bit" -> String.format(Locale.ROOT, "%s: u8 state1, state2 and f32 absmax1, absmax2 per %d elements; f32 below %,d elements",
                    o.name(), BLOCK_8BIT, o.min8bitSize());
            case "sgd" -> o.momentum() != 0 ? "sgd: momentum_buffer" : "sgd: none";
            case "adafactor" -> "adafactor: factored exp_avg_sq" + (o.beta1() != null ? ", exp_avg" : "");
            default -> throw new IllegalArgumentException(unknown(o));
        };
    }

    static String unknown(Optimizer o) {
        return "optimizer '" + o.name() + "': the memory planner knows adamw, paged_adamw_32bit, adamw_8bit, paged_adamw_8bit, sgd and adafactor";
    }

    private static long f32(long elements) {
        return Kept.granule(4 * elements);
    }
}
