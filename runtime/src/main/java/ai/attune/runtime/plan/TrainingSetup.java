package ai.attune.runtime.plan;

import java.util.List;
import java.util.Locale;

/**
 * What a recipe decides about memory, apart from the model's shape: the method and its sizes, one
 * micro-batch's rows and tokens, the precision, the optimizer and gradient checkpointing. Advice is
 * a copy of it with one thing changed.
 *
 * @param seqLen        tokens per row; a micro-batch is padded to its longest row, so this is the worst case
 * @param accumulation  micro-batches per optimizer step: their activations are never alive together
 */
public record TrainingSetup(Method method, Lora lora, int adapterReduction, int virtualTokens, int microBatch, int accumulation, int seqLen,
                            Precision precision, Optimizer optimizer, boolean checkpointing) {

    /** The methods the planner can count: the recipe's {@code method} names. */
    public enum Method {
        full, lora, qlora, adapter, prompt_tuning, prefix_tuning;

        /** Methods that freeze the base model and train small added tensors. */
        boolean frozenBase() {
            return this != full;
        }
    }

    /** {@code train.precision}: fp32, or autocast products in bf16 / fp16 over f32 master weights. */
    public enum Precision {
        fp32, bf16, fp16;

        boolean autocast() {
            return this != fp32;
        }
    }

    /**
     * PEFT's LoRA sizes. {@code targets}: module names (matched as a path or its last names), one
     * regular expression the whole path must match, or "all-linear" (every linear layer but lm_head).
     */
    public record Lora(int r, List<String> names, String regex, double dropout, double scaling) {
        public Lora {
            if (r <= 0) {
                throw new IllegalArgumentException("lora r must be positive, got " + r);
            }
            names = names == null ? null : List.copyOf(names);
        }

        /** PEFT's default lora_alpha 8 over r. */
        public Lora(int r, List<String> names, String regex, double dropout) {
            this(r, names, regex, dropout, 8.0 / r);
        }

        boolean targets(ModelShape.Linear l) {
            if (regex != null) {
                return regex.toLowerCase(Locale.ROOT).equals("all-linear") ? !l.path().equals("lm_head") : l.path().matches(regex);
            }
            return names.stream().anyMatch(n -> l.path().equals(n) || l.path().endsWith("." + n));
        }

        String describe() {
            return "r " + r + " on " + (regex != null ? regex : String.join(", ", names));
        }
    }

    /**
     * The optimizer and the options that change its state: AdamW's amsgrad, SGD's momentum and
     * nesterov, Adafactor's beta1 (exp_avg exists only when it is set), 8-bit AdamW's
     * min_8bit_size (smaller tensors keep f32 state).
     */
    public record Optimizer(String name, boolean amsgrad, double momentum, boolean nesterov, boolean weightDecay, Double beta1, long min8bitSize) {
        public static Optimizer adamw() {
            return new Optimizer("adamw", false, 0, false, false, null, 0);
        }

        public static Optimizer adafactor(Double beta1) {
            return new Optimizer("adafactor", false, 0, false, false, beta1, 0);
        }

        /** bitsandbytes' AdamW8bit with its default min_8bit_size, 4,096. */
        public static Optimizer adamw8bit() {
            return new Optimizer("adamw_8bit", false, 0, false, false, null, 4096);
        }
    }

    public TrainingSetup {
        if (microBatch <= 0 || accumulation <= 0 || seqLen <= 0) {
            throw new IllegalArgumentException("micro-batch, accumulation and sequence length must be positive");
        }
        if ((method == Method.lora || method == Method.qlora) != (lora != null)) {
            throw new IllegalArgumentException("LoRA sizes go with the lora and qlora methods only");
        }
    }

    /** Rows of one optimizer step. */
    public int effectiveBatch() {
        return microBatch * accumulation;
    }

    /** Positions one row takes in the forward: the tokens, after prompt tuning's virtual tokens. */
    public int positions() {
        return seqLen + (method == Method.prompt_tuning ? virtualTokens : 0);
    }

    public TrainingSetup withMicroBatch(int mb, int accum) {
        return new TrainingSetup(method, lora, adapterReduction, virtualTokens, mb, accum, seqLen, precision, optimizer, checkpointing);
    }

    public TrainingSetup withCheckpointing() {
        return new TrainingSetup(method, lora, adapterReduction, virtualTokens, microBatch, accumulation, seqLen, precision, optimizer, true);
    }

    public TrainingSetup withPrecision(Precision p) {
        return new TrainingSetup(method, lora, adapterReduction, virtualTokens, microBatch, accumulation, seqLen, p, optimizer, checkpointing);
    }

    public TrainingSetup withOptimizer(Optimizer o) {
        return new TrainingSetup(method, lora, adapterReduction, virtualTokens, microBatch, accumulation, seqLen, precision, o, checkpointing);
    }

    public TrainingSetup withMethod(Method m, Lora l) {
        return new TrainingSetup(m, l, adapterReduction, virtualTokens, microBatch, accumulation, seqLen, precision, optimizer, checkpointing);
    }
}
