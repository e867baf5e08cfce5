package ai.attune.plugins.lora;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;

import java.util.List;

/**
 * PEFT's {@code LoraConfig}, bound from the recipe's {@code lora:} block. Keys are PEFT's; the
 * recipe's short names {@code alpha} and {@code dropout} are accepted as aliases. Defaults are
 * PEFT's: r 8, lora_alpha 8, no dropout, the model family's default targets, plain LoRA scaling.
 *
 * @param r              the rank of the update
 * @param loraAlpha      the update is scaled by {@code lora_alpha / r} ({@code / sqrt(r)} with rsLoRA)
 * @param loraDropout    dropout probability on the LoRA path's input, in [0, 1)
 * @param targetModules  module names (suffix match), a regex (full match) or "all-linear"; null for
 *                       the model family's default
 * @param useRslora      rank-stabilised scaling, {@code lora_alpha / sqrt(r)} (Kalajdzievski 2023)
 * @param fanInFanOut    whether target weights are stored [in, out]; null to read it off the layers
 * @param bias           "none": LoRA trains no bias (the only mode supported)
 * @param initFrom       a PEFT adapter directory whose A and B start the run, or null
 * @param modulesToSave  extra modules trained in full and saved with the adapter (not supported yet)
 */
public record LoraConfig(
        @JsonProperty("r") int r,
        @JsonProperty("lora_alpha") double loraAlpha,
        @JsonProperty("lora_dropout") double loraDropout,
        @JsonProperty("target_modules") TargetModules targetModules,
        @JsonProperty("use_rslora") boolean useRslora,
        @JsonProperty("fan_in_fan_out") Boolean fanInFanOut,
        @JsonProperty("bias") String bias,
        @JsonProperty("init_from") String initFrom,
        @JsonProperty("modules_to_save") List<String> modulesToSave) {

    public static final LoraConfig DEFAULTS = new LoraConfig(8, 8, 0.0, null, false, null, "none", null, List.of());

    public LoraConfig {
        if (r <= 0) {
            throw new IllegalArgumentException("r must be a positive integer (the LoRA rank), got " + r);
        }
        if (!Double.isFinite(loraAlpha)) {
            throw new IllegalArgumentException("lora_alpha must be a finite number, got " + loraAlpha);
        }
        if (!(loraDropout >= 0 && loraDropout < 1)) {
            throw new IllegalArgumentException("lora_dropout must be in [0, 1), got " + loraDropout);
        }
        bias = bias == null ? "none" : bias;
        if (!bias.equals("none")) {
            throw new IllegalArgumentException("bias '" + bias + "' is not supported: only 'none' (LoRA trains no bias); "
                    + "PEFT's 'all' and 'lora_only' would also train the base biases");
        }
        modulesToSave = modulesToSave == null ? List.of() : List.copyOf(modulesToSave);
        if (!modulesToSave.isEmpty()) {
            throw new IllegalArgumentException("modules_to_save " + modulesToSave + " is not supported yet: remove it, "
                    + "or fine-tune those modules with the full method");
        }
    }

    /**
     * The binding Jackson uses: boxed values so that an absent key takes PEFT's default while an
     * explicit 0 is still refused. The recipe's short names are separate keys rather than
     * {@code @JsonAlias}es, because the runtime lays a recipe's block over the serialised defaults,
     * which already hold the PEFT key; the short name, when given, is the one the user wrote.
     */
    @JsonCreator
    static LoraConfig bind(
            @JsonProperty("r") Integer r,
            @JsonProperty("lora_alpha") Double loraAlpha,
            @JsonProperty("alpha") Double alpha,
            @JsonProperty("lora_dropout") Double loraDropout,
            @JsonProperty("dropout") Double dropout,
            @JsonProperty("target_modules") TargetModules targetModules,
            @JsonProperty("use_rslora") Boolean useRslora,
            @JsonProperty("fan_in_fan_out") Boolean fanInFanOut,
            @JsonProperty("bias") String bias,
            @JsonProperty("init_from") String initFrom,
            @JsonProperty("modules_to_save") List<String> modulesToSave) {
        return new LoraConfig(
                r == null ? DEFAULTS.r : r,
                alpha != null ? alpha : loraAlpha != null ? loraAlpha : DEFAULTS.loraAlpha,
                dropout != null ? dropout : loraDropout != null ? loraDropout : DEFAULTS.loraDropout,
                targetModules,
                useRslora != null && useRslora,
                fanInFanOut,
                bias,
                initFrom,
                modulesToSave);
    }

    /** The factor on {@code B A x}: {@code lora_alpha / r}, or {@code lora_alpha / sqrt(r)} with rsLoRA. */
    public double scaling() {
        return useRslora ? loraAlpha / Math.sqrt(r) : loraAlpha / r;
    }

    /** A copy with other target modules. */
    public LoraConfig withTargetModules(TargetModules targets) {
        return new LoraConfig(r, loraAlpha, loraDropout, targets, useRslora, fanInFanOut, bias, initFrom, modulesToSave);
    }
}
