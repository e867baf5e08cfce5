package ai.attune.runtime.plan;

import ai.attune.runtime.plan.ModelShape.Linear;
import ai.attune.runtime.plan.ModelShape.Weight;
import ai.attune.runtime.plan.TrainingSetup.Method;

import java.util.ArrayList;
import java.util.List;

/**
 * The parameters a method trains: all of the model's for full fine-tuning, else the tensors the
 * method adds, with the shapes its plugin gives them (PEFT's for LoRA, prompt and prefix tuning,
 * AdapterHub's for bottleneck adapters).
 */
final class TrainableTensors {
    private TrainableTensors() {}

    static List<Weight> of(ModelShape m, TrainingSetup t) {
        return t.method() == Method.full ? m.weights() : added(m, t);
    }

    /** The tensors the method adds to a frozen base (none for full fine-tuning). */
    static List<Weight> added(ModelShape m, TrainingSetup t) {
        List<Weight> out = new ArrayList<>();
        switch (t.method()) {
            case full -> { }
            case lora, qlora -> {
                for (Linear l : m.linears()) {
                    if (t.lora().targets(l)) {
                        out.add(new Weight(l.path() + ".lora_A.weight", t.lora().r(), l.in()));
                        out.add(new Weight(l.path() + ".lora_B.weight", l.out(), t.lora().r()));
                    }
                }
            }
            case adapter -> {
                long r = Math.max(1, m.hidden() / t.adapterReduction());
                for (int i = 0; i < m.layers(); i++) {
                    for (String where : List.of("attention", "output")) {
                        String p = "model.layers." + i + ".adapters." + where + ".";
                        out.add(new Weight(p + "adapter_down.0.weight", r, m.hidden()));
                        out.add(new Weight(p + "adapter_down.0.bias", r, 0));
                        out.add(new Weight(p + "adapter_up.weight", m.hidden(), r));
                        out.add(new Weight(p + "adapter_up.bias", m.hidden(), 0));
                    }
                }
            }
            case prompt_tuning -> out.add(new Weight("prompt_encoder.weight", t.virtualTokens(), m.hidden()));
            // PEFT's PrefixEncoder without prefix_projection: keys and values of every layer, [P, layers * 2 * kv * head_dim]
            case prefix_tuning -> out.add(new Weight("prefix_encoder.embedding.weight", t.virtualTokens(), 2L * m.layers() * m.kvWidth()));
        }
        return out;
    }

    /** Element count of {@code weights}. */
    static long count(List<Weight> weights) {
        return weights.stream().mapToLong(Weight::elements).sum();
    }
}
