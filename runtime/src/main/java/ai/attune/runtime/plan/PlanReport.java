package ai.attune.runtime.plan;

import ai.attune.runtime.plan.Advisor.Advice;
import ai.attune.runtime.plan.MemoryPlan.Row;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.List;
import java.util.Locale;

/**
 * A plan as {@code attune plan} prints it: a table of bytes, whether it fits the budget and with
 * how much to spare, then the advice; or the same as one JSON object for machines.
 *
 * @param budgetName how the budget was given: "24GB (22.35 GiB)", or "this machine's memory (23.43 GiB)"
 */
public record PlanReport(RecipePlan.Input input, MemoryPlan plan, long budget, String budgetName, List<Advice> advice) {

    public String text() {
        StringBuilder b = new StringBuilder();
        TrainingSetup t = plan.setup();
        b.append(String.format(Locale.ROOT, "plan for %s: %s (%s)%n", input.recipe(), input.model(), plan.model().describe()));
        b.append(String.format(Locale.ROOT, "  %s; micro-batch %d x %d tokens, accumulation %d; %s; %s; checkpointing %s; %s backend%n%n",
                method(t), t.microBatch(), t.positions(), t.accumulation(), t.precision(), t.optimizer().name(), t.checkpointing() ? "on" : "off",
                input.backend()));
        b.append(String.format(Locale.ROOT, "%-16s %12s  %s%n", "component", "bytes", "what"));
        for (Row r : plan.rows()) {
            b.append(String.format(Locale.ROOT, "%-16s %12s  %s%n", r.component(), ByteSize.format(r.bytes()), r.detail()));
        }
        b.append(String.format(Locale.ROOT, "%-16s %12s  peak at %s%n", "total", ByteSize.format(plan.total()), plan.peak().description()));
        b.append(String.format(Locale.ROOT, "%-16s %12s  %s: activations %s, total %s%n%n", "", "",
                plan.alternative().detail().replaceFirst(",.*", ""), ByteSize.format(plan.alternative().bytes()), ByteSize.format(plan.alternativeTotal())));
        long headroom = budget - plan.total();
        b.append(headroom >= 0
                ? String.format(Locale.ROOT, "fits in %s: yes (%s headroom)%n", budgetName, ByteSize.format(headroom))
                : String.format(Locale.ROOT, "fits in %s: no (%s over)%n", budgetName, ByteSize.format(-headroom)));
        if (!advice.isEmpty()) {
            b.append("to fit, in order of cost (each line adds to the one before):\n");
            for (int i = 0; i < advice.size(); i++) {
                Advice a = advice.get(i);
                String missing = a.missingPlugins().isEmpty() ? "" : "  [not installed here: " + String.join(", ", a.missingPlugins()) + "]";
                b.append(String.format(Locale.ROOT, "  %d. %s: total %s, %s%s%n", i + 1, a.change(), ByteSize.format(a.plan().total()),
                        a.fits() ? "fits" : "does not fit", missing));
            }
            if (!advice.get(advice.size() - 1).fits()) {
                b.append("even with all of these it does not fit: shorten data.max_seq_len, or plan for a larger device\n");
            }
        }
        return b.toString();
    }

    public String json() {
        ObjectMapper json = new ObjectMapper();
        ObjectNode root = json.createObjectNode();
        root.put("recipe", input.recipe()).put("model", input.model()).put("backend", input.backend());
        ObjectNode shape = root.putObject("model_shape");
        ModelShape m = plan.model();
        shape.put("model_type", m.modelType()).put("parameters", m.parameterCount()).put("hidden_size", m.hidden())
                .put("intermediate_size", m.intermediate()).put("num_hidden_layers", m.layers()).put("num_attention_heads", m.heads())
                .put("num_key_value_heads", m.kvHeads()).put("vocab_size", m.vocab()).put("tie_word_embeddings", m.tiedEmbeddings());
        root.set("setup", setup(json, plan.setup()));
        ArrayNode rows = root.putArray("components");
        for (Row r : plan.rows()) {
            rows.addObject().put("component", r.component()).put("detail", r.detail()).put("bytes", r.bytes());
        }
        root.put("total_bytes", plan.total()).put("peak", plan.peak().name().toLowerCase(Locale.ROOT));
        root.putObject(plan.setup().checkpointing() ? "without_checkpointing" : "with_checkpointing")
                .put("activations_bytes", plan.alternative().bytes()).put("total_bytes", plan.alternativeTotal());
        root.put("device_memory_bytes", budget).put("fits", plan.total() <= budget).put("headroom_bytes", budget - plan.total());
        ArrayNode out = root.putArray("advice");
        for (Advice a : advice) {
            ObjectNode n = out.addObject().put("change", a.change()).put("total_bytes", a.plan().total()).put("fits", a.fits());
            n.set("setup", setup(json, a.setup()));
            a.missingPlugins().forEach(n.putArray("not_installed")::add);
        }
        return root.toString();
    }

    private static ObjectNode setup(ObjectMapper json, TrainingSetup t) {
        ObjectNode s = json.createObjectNode().put("method", t.method().name()).put("micro_batch_size", t.microBatch())
                .put("gradient_accumulation_steps", t.accumulation()).put("max_seq_len", t.seqLen()).put("precision", t.precision().name())
                .put("optimizer", t.optimizer().name()).put("gradient_checkpointing", t.checkpointing());
        if (t.lora() != null) {
            s.put("lora_r", t.lora().r()).put("lora_targets", t.lora().regex() != null ? t.lora().regex() : String.join(",", t.lora().names()));
        }
        return s;
    }

    private static String method(TrainingSetup t) {
        return switch (t.method()) {
            case lora, qlora -> t.method() + " " + t.lora().describe();
            case adapter -> "adapter, reduction_factor " + t.adapterReduction();
            case prompt_tuning, prefix_tuning -> t.method() + ", " + t.virtualTokens() + " virtual tokens";
            case full -> "full fine-tuning";
        };
    }
}
