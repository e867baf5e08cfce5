package ai.attune.runtime.train;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;

import java.nio.file.Path;

/**
 * A training recipe as bound from YAML. Keys follow transformers' TrainingArguments and PEFT where
 * those have names; the method's own block (e.g. {@code lora:}) and the optimizer's extra keys
 * are bound later to the plugin's config type, so a plugin owns its keys. {@code quantization} is
 * the {@code quantization:} block (transformers' BitsAndBytesConfig keys), or null: the base's
 * Linear weights are quantized as they load.
 */
public record Recipe(Path source, Path model, String method, String methodKey, JsonNode methodConfig, Data data, Train train, Path output, JsonNode quantization) {

    /** The {@code data:} block. */
    public record Data(
            @JsonProperty("format") String format,
            @JsonProperty("path") Path path,
            @JsonProperty("eval_path") Path evalPath,
            @JsonProperty("general_eval_path") Path generalEvalPath,
            @JsonProperty("shuffle") Boolean shuffle,
            @JsonProperty("max_seq_len") Integer maxSeqLen,
            @JsonProperty("truncate") Boolean truncate,
            @JsonProperty("dedup") Boolean dedup,
            @JsonProperty("balance") String balance) {
        boolean shuffleOn() {
            return shuffle == null || shuffle;
        }

    }

    /** The {@code train:} block. */
    public record Train(
            @JsonProperty("micro_batch_size") Integer microBatchSize,
            @JsonProperty("gradient_accumulation_steps") Integer gradientAccumulationSteps,
            @JsonProperty("max_steps") Integer maxSteps,
            @JsonProperty("epochs") Double epochs,
            @JsonProperty("seed") Long seed,
            @JsonProperty("optimizer") JsonNode optimizer,
            @JsonProperty("schedule") Schedule schedule,
            @JsonProperty("max_grad_norm") Double maxGradNorm,
            @JsonProperty("eval_every") Integer evalEvery,
            @JsonProperty("save_every") Integer saveEvery,
            @JsonProperty("precision") String precision,
            @JsonProperty("backend") String backend,
            @JsonProperty("gradient_checkpointing") Boolean gradientCheckpointing,
            @JsonProperty("nproc_per_node") Integer nprocPerNode,
            @JsonProperty("profile") Boolean profile) {

        /** Whether the steps run under an op profile, whose table ends the run (as attune bench --profile prints it). */
        public boolean profiled() {
            return Boolean.TRUE.equals(profile);
        }

        /** Data-parallel ranks on one machine (torchrun's {@code --nproc-per-node}); 1 (default) trains in one process. */
        public int ranks() {
            return nprocPerNode == null ? 1 : nprocPerNode;
        }

        int microBatch() {
            return microBatchSize == null ? 4 : microBatchSize;
        }

        int accumulation() {
            return gradientAccumulationSteps == null ? 1 : gradientAccumulationSteps;
        }

        long seedOr0() {
            return seed == null ? 0 : seed;
        }

        double clip() {
            return maxGradNorm == null ? 1.0 : maxGradNorm;
        }

        /** {@code fp32} (default), {@code bf16} or {@code fp16}: the products' dtype; weights stay f32. */
        String precisionOrFp32() {
            return precision == null ? "fp32" : precision;
        }

        /**
         * {@code jvm} (default: pure Java, the same bits on every machine), {@code torch} (libtorch),
         * or {@code auto} (torch when its natives load here, else jvm with a line saying why).
         */
        String backendOrJvm() {
            return backend == null ? "jvm" : backend;
        }

        /** transformers' {@code gradient_checkpointing}: blocks keep only their input and run again in backward. */
        boolean checkpointing() {
            return gradientCheckpointing != null && gradientCheckpointing;
        }
    }

    /** {@code train.schedule}: transformers' scheduler name and warmup. */
    public record Schedule(@JsonProperty("name") String name, @JsonProperty("warmup_steps") Integer warmupSteps) {}
}
