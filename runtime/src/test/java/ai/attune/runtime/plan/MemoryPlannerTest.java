package ai.attune.runtime.plan;

import ai.attune.api.model.ModelConfig;
import ai.attune.runtime.plan.TrainingSetup.Method;
import ai.attune.runtime.plan.TrainingSetup.Optimizer;
import ai.attune.runtime.plan.TrainingSetup.Precision;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The planner's arithmetic against numbers worked out by hand, on a Llama small enough to count:
 * hidden 64, intermediate 128, 2 layers, 4 heads of 16 with 2 key/value heads (q 64 wide, k and v
 * 32), vocab 256, untied; one micro-batch of 2 rows x 64 tokens (N = 128). Every tensor is then a
 * multiple of the pool's 512-byte granule except the norms' weights (64 x 4 = 256 bytes, which
 * take 512) and the step counts (8 bytes, 512).
 */
class MemoryPlannerTest {
    static final String CONFIG = """
            {"model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
             "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 256, "tie_word_embeddings": false}""";

    static ModelShape shape() throws Exception {
        return ModelShape.of(ModelConfig.of(Path.of("golden"), new ObjectMapper().readTree(CONFIG)));
    }

    static TrainingSetup full(Precision p) {
        return new TrainingSetup(Method.full, null, 16, 0, 2, 1, 64, p, Optimizer.adamw(), false);
    }

    static MemoryPlan plan(TrainingSetup t) throws Exception {
        return new MemoryPlanner(new RuntimeOverhead(0, 0)).plan(shape(), t);
    }

    @Test
    void weightsGradientsAndAdamStateToTheByte() throws Exception {
        // embed 256x64 = 65,536 B; per layer q 16,384 + k 8,192 + v 8,192 + o 16,384 + gate, up, down 3 x 32,768 + 2 norms x 512
        // = 148,480; final norm 512; lm_head 65,536: 65,536 + 2 x 148,480 + 512 + 65,536 = 428,544
        MemoryPlan p = plan(full(Precision.fp32));
        assertEquals(106_816, shape().parameterCount());
        assertEquals(428_544, p.bytes("weights"));
        assertEquals(428_544, p.bytes("gradients"));
        // exp_avg and exp_avg_sq of each of the 21 tensors, and a 512-byte block for each one's f64 step count
        assertEquals(2 * 428_544 + 21 * 512, p.bytes("optimizer state"));
    }

    @Test
    void oneLayersActivationsCountedFromTheForward() throws Exception {
        // f32, N = 128: [N, 64] = 32,768 B: input_layernorm, q_proj, rotary q, attention, merged heads, o_proj, residual,
        // post_attention_layernorm, down_proj, residual (10); [N, 32] = 16,384 B: k_proj, v_proj, rotary k (3);
        // [N, 128] = 65,536 B: gate, up, silu, silu*up (4); two rstd [N] (512 each) and the attention logsumexp [N, 4] (2,048)
        long layer = 10 * 32_768 + 3 * 16_384 + 4 * 65_536 + 512 + 512 + 2_048;
        assertEquals(642_048, layer);
        assertEquals(layer, Kept.total(ForwardTensors.layer(shape(), full(Precision.fp32), 0), Precision.fp32));
        // around the layers: ids, mask, positions, targets (i64, 1,024 each), embeddings 32,768; norm 32,768 + rstd 512,
        // logits [N, 256] 131,072, per-token losses and logsumexp 512 each
        long around = 4 * 1_024 + 32_768 + 32_768 + 512 + 131_072 + 512 + 512;
        MemoryPlan p = plan(full(Precision.fp32));
        assertEquals(MemoryPlan.Phase.TURN, p.peak());
        assertEquals(2 * layer + around, p.bytes("activations"));
        // at the turn: cross-entropy's gradient [N, 256], then the head's input gradient [N, 64] and weight gradient [256, 64]
        assertEquals(131_072 + 32_768 + 65_536, p.bytes("workspace"));
    }

    @Test
    void bf16HalvesProductsAndAddsCasts() throws Exception {
        // bf16 products, N = 128. f32 stays: 2 norms and 2 residuals [N, 64] (4 x 32,768), rstd x2, logsumexp.
        // Halved: q_proj, rotary q, attention, merged heads, o_proj, down_proj [N, 64] (6 x 16,384); k_proj, v_proj, rotary k
        // [N, 32] (3 x 8,192); gate, up, silu, product [N, 128] (4 x 32,768). Casts of f32 inputs: q, k, v, gate and up each
        // cast the normed [N, 64] (5 x 16,384); weights: q and o 8,192, k and v 4,096, gate, up, down 16,384 each.
        long layer = 4 * 32_768 + 512 + 512 + 2_048 + 6 * 16_384 + 3 * 8_192 + 4 * 32_768 + 5 * 16_384
                + 2 * 8_192 + 2 * 4_096 + 3 * 16_384;
        assertEquals(layer, Kept.total(ForwardTensors.layer(shape(), full(Precision.bf16), 0), Precision.bf16));
    }

    @Test
    void loraAddsItsPathOnTheTargetsOnly() throws Exception {
        TrainingSetup lora = new TrainingSetup(Method.lora, new TrainingSetup.Lora(4, List.of("q_proj", "v_proj"), null, 0), 16, 0, 2, 1, 64,
                Precision.fp32, Optimizer.adamw(), false);
        // q: lora_A and its scaling (lora_alpha 8 / r 4) [N, 4] (2 x 2,048) + lora_B, sum [N, 64] (2 x 32,768);
        // v: 2 x 2,048 + 2 x [N, 32] (16,384)
        long extra = 2 * 2_048 + 2 * 32_768 + 2 * 2_048 + 2 * 16_384;
        assertEquals(642_048 + extra, Kept.total(ForwardTensors.layer(shape(), lora, 0), Precision.fp32));
        MemoryPlan p = plan(lora);
        // A [4, 64] and B [64, 4] on q; A [4, 64] and B [32, 4] on v: 256 + 256 + 256 + 128 parameters per layer
        assertEquals(428_544 + 2 * (1_024 + 1_024 + 1_024 + 512), p.bytes("weights"));
        assertEquals(2 * (1_024 + 1_024 + 1_024 + 512), p.bytes("gradients"));
        // frozen head, fused with the loss: at the forward's end one chunk (all N rows) of logits [N, 256] and of
        // their gradient, and the chunk's lse and per-row loss gradient [N]; no weight gradient
        assertEquals(2 * 131_072 + 2 * 512, p.bytes("workspace"));
    }

    @Test
    void adafactorKeepsRowAndColumnMeans() throws Exception {
        MemoryPlan p = plan(full(Precision.fp32).withOptimizer(Optimizer.adafactor(null)));
        // A matrix [rows, cols] keeps exp_avg_sq_row [rows] and exp_avg_sq_col [cols], a vector its full square; every
        // one here is at most 1,024 B. Per layer: q, k, v, o, gate, up, down have rows and cols <= 128, so 512 + 512 each
        // (7,168), the two norms 512 each: 8,192. embed and lm_head [256, 64]: 1,024 + 512 each; final norm 512.
        long layer = 7 * (512 + 512) + 2 * 512;
        long state = 2 * layer + 2 * (1_024 + 512) + 512;
        assertEquals(state + 21 * 512, p.bytes("optimizer state")); // and 21 step counts
        MemoryPlan withBeta1 = plan(full(Precision.fp32).withOptimizer(Optimizer.adafactor(0.9)));
        assertEquals(state + 21 * 512 + 428_544, withBeta1.bytes("optimizer state")); // exp_avg is full
    }
}
