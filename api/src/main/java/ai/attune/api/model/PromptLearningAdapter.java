package ai.attune.api.model;

import ai.attune.api.io.AtomicDirectory;
import ai.attune.api.io.SafetensorsFile;
import ai.attune.api.io.SafetensorsWriter;
import ai.attune.api.tensor.DType;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * The adapter directory PEFT writes for its prompt-learning methods (prompt tuning, prefix tuning,
 * P-tuning): {@code adapter_model.safetensors} holding exactly {@code prompt_embeddings} [P, width]
 * f32, and an {@code adapter_config.json} with the fields they share.
 */
public final class PromptLearningAdapter {
    public static final String WEIGHTS = "adapter_model.safetensors";
    public static final String CONFIG = "adapter_config.json";
    public static final String KEY = "prompt_embeddings";

    private PromptLearningAdapter() {}

    /** The fields every prompt-learning config has; the method adds its own. */
    public static ObjectNode config(String peftType, int virtualTokens, int tokenDim, int layers, int heads, Path baseModel) {
        ObjectNode c = JsonNodeFactory.instance.objectNode();
        c.putNull("auto_mapping");
        if (baseModel == null) {
            c.putNull("base_model_name_or_path");
        } else {
            c.put("base_model_name_or_path", baseModel.toString());
        }
        c.put("inference_mode", true);
        c.put("num_attention_heads", heads);
        c.put("num_layers", layers);
        c.put("num_transformer_submodules", 1);
        c.put("num_virtual_tokens", virtualTokens);
        c.put("peft_type", peftType);
        c.putNull("revision");
        c.put("task_type", "CAUSAL_LM");
        c.put("token_dim", tokenDim);
        return c;
    }

    /** Writes the directory, which must not exist, under a temporary name renamed into place. */
    public static void write(Path out, ObjectNode config, float[] embeddings, int virtualTokens, int width) throws IOException {
        AtomicDirectory.create(out, tmp -> {
            new SafetensorsWriter().add(KEY, DType.F32, new long[] {virtualTokens, width}, MemorySegment.ofArray(embeddings))
                    .write(tmp.resolve(WEIGHTS));
            Files.writeString(tmp.resolve(CONFIG), new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(config));
        });
    }

    /** The saved {@code prompt_embeddings}, which must be F32 [P, width]; {@code what} names the width in the error. */
    public static float[] read(Path dir, int virtualTokens, int width, String what) throws IOException {
        Path file = dir.resolve(WEIGHTS);
        try (SafetensorsFile st = SafetensorsFile.open(file)) {
            if (!st.contains(KEY)) {
                throw new IllegalArgumentException(file + ": holds no '" + KEY + "'; init_from takes an adapter directory of the same method");
            }
            var info = st.info(KEY);
            if (info.dtype() != DType.F32 || !Arrays.equals(info.shape(), new long[] {virtualTokens, width})) {
                throw new IllegalArgumentException(file + ": '" + KEY + "' is " + info.dtype() + " " + Arrays.toString(info.shape())
                        + ", not F32 [" + virtualTokens + ", " + width + "] (num_virtual_tokens, " + what + ")");
            }
            return st.data(KEY).toArray(ValueLayout.JAVA_FLOAT_UNALIGNED);
        }
    }
}
