package ai.attune.runtime.plan;

import ai.attune.runtime.plan.TrainingSetup.Method;
import ai.attune.runtime.plan.TrainingSetup.Precision;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.function.UnaryOperator;

/**
 * What to change so a step fits a budget, cheapest first: a smaller micro-batch with more
 * accumulation (the same updates, only slower), gradient checkpointing (a second forward per
 * block), bf16 products, Adafactor's factored moments, LoRA instead of full fine-tuning, a 4-bit
 * QLoRA base. Changes add up; after each the micro-batch is the largest that fits (never above the
 * recipe's, always dividing the effective batch), and the advice stops at the first that fits. A
 * change that saves under 1% is left out.
 */
public final class Advisor {
    /** One step of advice: what changed (cumulatively), the setup and its plan, and whether its plugin is installed. */
    public record Advice(String change, TrainingSetup setup, MemoryPlan plan, boolean fits, List<String> missingPlugins) {}

    /** A technique the advice can add, the plugin it needs, and whether it applies to a setup. */
    private record Technique(String what, String plugin, java.util.function.Predicate<TrainingSetup> applies, UnaryOperator<TrainingSetup> apply) {}

    private static final TrainingSetup.Lora LORA = new TrainingSetup.Lora(8, null, "all-linear", 0);

    private final MemoryPlanner planner;
    private final Set<String> installed;

    /** {@code installed}: the techniques this runtime has, as "method/qlora", "memory/gradient_checkpointing", "optimizer/adafactor". */
    public Advisor(MemoryPlanner planner, Set<String> installed) {
        this.planner = planner;
        this.installed = Set.copyOf(installed);
    }

    public List<Advice> advise(ModelShape m, TrainingSetup base, long budget) {
        List<Advice> out = new ArrayList<>();
        if (planner.plan(m, base).total() <= budget) {
            return out;
        }
        TrainingSetup s = fitMicroBatch(m, base, base, budget);
        if (s.microBatch() != base.microBatch()) {
            out.add(advice(m, s, budget, microBatchChange(base, s) + " (the same updates)", List.of()));
        }
        List<Technique> techniques = List.of(
                new Technique("gradient checkpointing", "memory/gradient_checkpointing", t -> !t.checkpointing(), TrainingSetup::withCheckpointing),
                new Technique("train.precision bf16", "memory/mixed_precision", t -> t.precision() == Precision.fp32, t -> t.withPrecision(Precision.bf16)),
                new Technique("optimizer adafactor", "optimizer/adafactor", t -> !t.optimizer().name().equals("adafactor"),
                        t -> t.withOptimizer(TrainingSetup.Optimizer.adafactor(null))),
                new Technique("lora r 8 on all-linear instead of full fine-tuning", "method/lora", t -> t.method() == Method.full,
                        t -> t.withMethod(Method.lora, LORA)),
                new Technique("qlora: a 4-bit NF4 base under the adapters", "method/qlora", t -> t.method() == Method.lora || t.method() == Method.full,
                        t -> t.withMethod(Method.qlora, t.lora() != null ? t.lora() : LORA)));
        List<String> applied = new ArrayList<>();
        List<String> missing = new ArrayList<>();
        for (Technique tech : techniques) {
            if (!out.isEmpty() && out.get(out.size() - 1).fits()) {
                break;
            }
            if (!tech.applies().test(s)) {
                continue;
            }
            long before = planner.plan(m, s).total();
            TrainingSetup next = fitMicroBatch(m, base, tech.apply().apply(s), budget);
            if (before - planner.plan(m, next).total() < before / 100) {
                continue;
            }
            applied.add(tech.what());
            if (!installed.contains(tech.plugin())) {
                missing.add(tech.plugin());
            }
            String mb = next.microBatch() != base.microBatch() ? "; " + microBatchChange(base, next) : "";
            out.add(advice(m, next, budget, String.join(" + ", applied) + mb, missing));
            s = next;
        }
        return out;
    }

    private Advice advice(ModelShape m, TrainingSetup s, long budget, String change, List<String> missingPlugins) {
        MemoryPlan plan = planner.plan(m, s);
        return new Advice(change, s, plan, plan.total() <= budget, List.copyOf(missingPlugins));
    }

    /**
     * {@code s} with the largest micro-batch that fits, at most the recipe's, dividing the recipe's
     * effective batch so each step still trains on as many rows; 1 when none fits.
     */
    TrainingSetup fitMicroBatch(ModelShape m, TrainingSetup recipe, TrainingSetup s, long budget) {
        int effective = recipe.effectiveBatch();
        for (int mb = recipe.microBatch(); mb >= 1; mb--) {
            if (effective % mb == 0) {
                TrainingSetup t = s.withMicroBatch(mb, effective / mb);
                if (mb == 1 || planner.plan(m, t).total() <= budget) {
                    return t;
                }
            }
        }
        throw new IllegalStateException("unreachable: micro-batch 1 divides every batch");
    }

    private static String microBatchChange(TrainingSetup from, TrainingSetup to) {
        return String.format("micro_batch_size %d -> %d, gradient_accumulation_steps %d -> %d", from.microBatch(), to.microBatch(),
                from.accumulation(), to.accumulation());
    }
}
