package ai.attune.runtime.plan;

import ai.attune.api.model.ModelConfig;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;

class PlanCalibrationTest {
    static final String CFG = """
            {"model_type": "llama", "hidden_size": 64, "intermediate_size": 176, "num_hidden_layers": 2,
             "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 300, "tie_word_embeddings": %s}""";

    @Test
    void explore() throws Exception {
        
        for (String tied : List.of("true", "false")) {
            String cfg = CFG.formatted(tied);
            ModelShape m = ModelShape.of(ModelConfig.of(Path.of("x"), new ObjectMapper().readTree(cfg)));
            for (String method : List.of("full", "lora")) {
                for (String prec : List.of("fp32", "bf16")) {
                    for (int[] bt : new int[][] {{2, 32}, {4, 64}}) {
                        long measured = MeasuredStep.peak(cfg, method, null, prec, bt[0], bt[1], 2);
                        TrainingSetup t = new TrainingSetup(TrainingSetup.Method.valueOf(method),
                                method.equals("lora") ? new TrainingSetup.Lora(8, List.of("q_proj", "v_proj"), null, 0) : null, 16, 0, bt[0], 1, bt[1],
                                TrainingSetup.Precision.valueOf(prec), TrainingSetup.Optimizer.adamw(), false);
                        MemoryPlan plan = new MemoryPlanner(new RuntimeOverhead(0, 0)).plan(m, t);
                                                long replay = StepReplay.peak(m, t);
                        System.out.printf("CAL tied=%s %s %s b=%d t=%d planned %d replay %d measured %d ratio %.4f replay ratio %.4f phase %s%n", tied, method, prec, bt[0], bt[1],
                                plan.total(), replay, measured, measured / (double) plan.total(), measured / (double) replay, plan.peak());
                    }
                }
            }
        }
    }
}
