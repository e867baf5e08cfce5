package ai.attune.runtime.plan;

import ai.attune.api.model.ModelConfig;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;

class Replay100mTest {
    @Test
    void print() throws Exception {
        String cfg = """
                    {"model_type": "llama", "hidden_size": 768, "intermediate_size": 2048, "num_hidden_layers": 12,
                     "num_attention_heads": 12, "num_key_value_heads": 12, "vocab_size": 32000,
                     "max_position_embeddings": 2048, "rms_norm_eps": 1e-5, "tie_word_embeddings": true}""";
        ModelShape m = ModelShape.of(ModelConfig.of(Path.of("x"), new ObjectMapper().readTree(cfg)));
        for (String[] c : new String[][] {{"full", "fp32", "3089.035"}, {"lora", "fp32", "1751.637"}, {"lora", "bf16", "1930.488"}}) {
            TrainingSetup t = new TrainingSetup(TrainingSetup.Method.valueOf(c[0]),
                    c[0].equals("lora") ? new TrainingSetup.Lora(8, List.of("q_proj", "v_proj"), null, 0) : null, 16, 0, 4, 1, 256,
                    TrainingSetup.Precision.valueOf(c[1]), TrainingSetup.Optimizer.adamw(), false);
            MemoryPlan plan = new MemoryPlanner(new RuntimeOverhead(0, 0)).plan(m, t);
            double replay = StepReplay.peak(m, t) / 1048576.0;
            System.out.printf("R100 %s %s analytic %.1f replay %.1f measured %s ratio %.4f%n", c[0], c[1], plan.total() / 1048576.0, replay, c[2],
                    Double.parseDouble(c[2]) / replay);
        }
    }
}
