package ai.attune.runtime.plan;

import ai.attune.api.model.ModelConfig;
import ai.attune.runtime.plan.TrainingSetup.Method;
import ai.attune.runtime.plan.TrainingSetup.Optimizer;
import ai.attune.runtime.plan.TrainingSetup.Precision;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The planner's tensor rows (everything but the runtime's) against the tensor service's own peak
 * ({@code BlockPool.peakBytes}) over real training steps, run as {@code attune bench --method} runs
 * them: on small Llamas here, and on the 110M preset from measurements written down below.
 */
class PlanAgainstTensorPeakTest {
    static final String SMALL = """
            {"model_type": "llama", "hidden_size": 64, "intermediate_size": 176, "num_hidden_layers": 2,
             "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 300, "tie_word_embeddings": %s}""";

    static final String LLAMA_100M = """
            {"model_type": "llama", "hidden_size": 768, "intermediate_size": 2048, "num_hidden_layers": 12,
             "num_attention_heads": 12, "num_key_value_heads": 12, "vocab_size": 32000,
             "max_position_embeddings": 2048, "rms_norm_eps": 1e-5, "tie_word_embeddings": true}""";

    static long planned(String config, String method, String precision, int batch, int seq) throws Exception {
        return planned(config, method, method.equals("lora") ? new TrainingSetup.Lora(8, List.of("q_proj", "v_proj"), null, 0) : null,
                precision, batch, seq);
    }

    static long planned(String config, String method, TrainingSetup.Lora lora, String precision, int batch, int seq) throws Exception {
        return planned(config, new TrainingSetup(Method.valueOf(method), lora, 16, 0, batch, 1, seq, Precision.valueOf(precision), Optimizer.adamw(), false));
    }

    static long planned(String config, TrainingSetup t) throws Exception {
        ModelShape m = ModelShape.of(ModelConfig.of(Path.of("x"), new ObjectMapper().readTree(config)));
        return new MemoryPlanner(new RuntimeOverhead(0, 0)).plan(m, t).total();
    }

    @ParameterizedTest(name = "tied {0}, {1}, {2}, {3} x {4}")
    @CsvSource({
            "true, full, fp32, 2, 32", "true, full, fp32, 4, 64", "true, full, bf16, 2, 32", "true, full, bf16, 4, 64",
            "true, lora, fp32, 2, 32", "true, lora, fp32, 4, 64", "true, lora, bf16, 2, 32", "true, lora, bf16, 4, 64",
            "false, full, fp32, 4, 64", "false, full, bf16, 4, 64", "false, lora, fp32, 4, 64", "false, lora, bf16, 4, 64"})
    void smallLlamaWithinFivePercent(boolean tied, String method, String precision, int batch, int seq) throws Exception {
        String config = SMALL.formatted(tied);
        long measured = MeasuredStep.peak(config, method, null, precision, batch, seq, 2);
        long planned = planned(config, method, precision, batch, seq);
        assertEquals(measured, planned, 0.05 * measured, "planned " + planned + " bytes, measured " + measured);
    }

    /**
     * LoRA on every linear layer with dropout: masks, and o_proj's and down_proj's inputs widened back
     * to f32 under bf16. The worst case seen: under bf16 the tensors themselves are 8% under the
     * measured peak and the replayed pool (backward replayed as a chain) 6% over it.
     */
    @ParameterizedTest(name = "all-linear LoRA with dropout, {0}")
    @CsvSource({"fp32", "bf16"})
    void loraOnAllLinearWithDropout(String precision) throws Exception {
        String config = SMALL.formatted(true);
        long measured = MeasuredStep.peak(config, "lora", "{\"target_modules\": \"all-linear\", \"lora_dropout\": 0.05, \"r\": 4}", precision, 4, 64, 2);
        long planned = planned(config, "lora", new TrainingSetup.Lora(4, null, "all-linear", 0.05), precision, 4, 64);
        assertEquals(measured, planned, 0.08 * measured, "planned " + planned + " bytes, measured " + measured);
    }

    /**
     * {@code tensor_peak_mb} of {@code attune bench --preset llama-100m --method M [--precision P] --batch 4 --seq 256 --steps 2}
     * on this repository's jvm backend (deterministic: the same on every run and machine).
     */
    @ParameterizedTest(name = "llama-100m {0} {1}: {2} MiB measured")
    @CsvSource({"full, fp32, 3089.03515625", "lora, fp32, 1492.330078125", "lora, bf16, 1894.49609375"})
    void llama100mWithinOnePointFivePercent(String method, String precision, double measuredMiB) throws Exception {
        double planned = planned(LLAMA_100M, method, precision, 4, 256) / (1024.0 * 1024.0);
        assertEquals(measuredMiB, planned, 0.015 * measuredMiB, "planned " + planned + " MiB");
    }

    /**
     * Gradient checkpointing and Adafactor (each plugin's defaults: no beta1), alone and with bf16
     * and LoRA, within 5%. Full fine-tuning with checkpointing is planned 5.5% under the measured
     * peak (4.40 against 4.66 MB; 4.2% while the pool freed cached blocks at its high-water mark
     * rather than a quarter above it): the real pool serves more requests from cached blocks up to
     * twice their size than the replay does. Not here: full fine-tuning with bf16 and checkpointing,
     * which the planner puts 12% under the measured peak (4 x 64 tokens): the recomputed block's
     * weight gradients under autocast are not all counted.
     */
    @ParameterizedTest(name = "{0} {1}, {2}, checkpointing {3}")
    @CsvSource({"lora, fp32, adamw, true, 0.05", "lora, bf16, adamw, true, 0.05", "full, fp32, adamw, true, 0.07",
            "full, fp32, adafactor, false, 0.05", "lora, fp32, adafactor, true, 0.05"})
    void checkpointingAndAdafactor(String method, String precision, String optimizer, boolean checkpointing, double tolerance)
            throws Exception {
        String config = SMALL.formatted(true);
        long measured = MeasuredStep.peak(config, method, null, precision, optimizer, checkpointing, 4, 64, 2);
        long planned = planned(config, setup(method, precision, optimizer, checkpointing, 4, 64));
        assertEquals(measured, planned, tolerance * measured, "planned " + planned + " bytes, measured " + measured);
    }

    static TrainingSetup setup(String method, String precision, String optimizer, boolean checkpointing, int batch, int seq) {
        TrainingSetup t = new TrainingSetup(Method.valueOf(method), method.equals("lora") ? new TrainingSetup.Lora(8, List.of("q_proj", "v_proj"), null, 0) : null,
                16, 0, batch, 1, seq, Precision.valueOf(precision), optimizer.equals("adamw") ? Optimizer.adamw() : Optimizer.adafactor(null), false);
        return checkpointing ? t.withCheckpointing() : t;
    }

    /**
     * {@code tensor_peak_mb} of {@code attune bench --preset llama-100m --method M --batch 4 --seq 256 --steps 2}
     * with {@code --gradient-checkpointing}, and with {@code --optimizer adafactor} (README "Memory").
     * LoRA with checkpointing is planned 2% over the measured peak, the fused head's chunk buffers
     * counted on top of every block's input.
     * Full fine-tuning with checkpointing is the loosest: the replayed pool puts 4% more of the
     * first step's gradients and AdamW moments into larger cached blocks than the runtime does.
     */
    @ParameterizedTest(name = "llama-100m {0} {1}, {2}, checkpointing {3}: {4} MiB measured")
    @CsvSource({"lora, fp32, adamw, true, 569.19677734375, 0.025", "full, fp32, adamw, true, 2127.0, 0.05", "full, fp32, adafactor, false, 2151.0, 0.015"})
    void llama100mCheckpointingAndAdafactor(String method, String precision, String optimizer, boolean checkpointing, double measuredMiB,
                                            double tolerance) throws Exception {
        double planned = planned(LLAMA_100M, setup(method, precision, optimizer, checkpointing, 4, 256)) / (1024.0 * 1024.0);
        assertEquals(measuredMiB, planned, tolerance * measuredMiB, "planned " + planned + " MiB");
    }

}
