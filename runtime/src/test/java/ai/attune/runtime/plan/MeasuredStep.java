package ai.attune.runtime.plan;

import ai.attune.api.autograd.Autograd;
import ai.attune.api.autograd.F;
import ai.attune.api.autograd.Views;
import ai.attune.api.model.CausalLM;
import ai.attune.api.model.ModelConfig;
import ai.attune.api.nn.DropoutSeeds;
import ai.attune.api.nn.Parameter;
import ai.attune.api.spi.MemoryStrategy;
import ai.attune.api.spi.Method;
import ai.attune.api.spi.MethodContext;
import ai.attune.api.spi.OptimizerState;
import ai.attune.api.tensor.BlockPool;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;
import ai.attune.kernels.jvm.JvmBackend;
import ai.attune.api.spi.Optimizer;
import ai.attune.plugins.lora.LoraMethod;
import ai.attune.plugins.memory.checkpointing.CheckpointingConfig;
import ai.attune.plugins.memory.checkpointing.GradientCheckpointing;
import ai.attune.plugins.optim.adafactor.AdafactorOptimizer;
import ai.attune.plugins.memory.mixedprecision.MixedPrecision;
import ai.attune.plugins.memory.mixedprecision.MixedPrecisionConfig;
import ai.attune.plugins.method.full.FullFineTuning;
import ai.attune.plugins.model.llama.LlamaFamily;
import ai.attune.plugins.optim.adamw.AdamWOptimizer;
import ai.attune.runtime.train.RecipeLoader;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * The tensor service's own peak over real training steps of a zero-weight Llama, run as
 * {@code attune bench --method} runs them (random tokens, one warm-up step; TrainingBench's loop,
 * with the LoRA config and the strategies open to the test): the oracle the planner's tensor rows
 * are checked against, on shapes small enough for a unit test.
 */
final class MeasuredStep {
    private MeasuredStep() {}

    /** Peak live tensor bytes over a warm-up step and {@code steps} more, with AdamW and no checkpointing. */
    static long peak(String configJson, String method, String loraJson, String precision, int batch, int seq, int steps) throws Exception {
        return peak(configJson, method, loraJson, precision, "adamw", false, batch, seq, steps);
    }

    /** The same with {@code optimizer} (adamw, adafactor: each plugin's defaults) and gradient checkpointing on or off. */
    @SuppressWarnings({"unchecked", "rawtypes"})
    static long peak(String configJson, String method, String loraJson, String precision, String optimizer, boolean checkpointing, int batch, int seq,
                     int steps) throws Exception {
        ObjectMapper json = new ObjectMapper();
        JvmBackend be = new JvmBackend();
        Path dir = Path.of("target", "plan-measured");
        BlockPool.trim();
        try (Scope job = Scope.open("job")) {
            CausalLM lm = (CausalLM) new LlamaFamily().create(ModelConfig.of(dir, json.readTree(configJson)), be, DType.F32, job);
            Method m = method.equals("full") ? new FullFineTuning() : new LoraMethod();
            Object config = new RecipeLoader().bindConfig(json.readTree(loraJson == null ? (method.equals("lora") ? "{\"target_modules\": [\"q_proj\", \"v_proj\"]}" : "{}") : loraJson), m.defaultConfig(), m.configType(),
                    method, "test");
            MethodContext ctx = new MethodContext(be, DType.F32, job, 0, new DropoutSeeds(0), null, null);
            List<Parameter> trainable = m.apply(lm.module(), config, ctx);
            lm.module().setTraining(true);
            List<MemoryStrategy.Session> sessions = new ArrayList<>();
            if (!precision.equals("fp32")) {
                sessions.add(new MixedPrecision().apply(lm.module(), new MixedPrecisionConfig(precision, 65536.0, 2.0, 0.5, 2000)));
            }
            if (checkpointing) {
                sessions.add(new GradientCheckpointing().apply(lm.module(), CheckpointingConfig.DEFAULTS));
            }
            MemoryStrategy.Session memory = sessions.isEmpty() ? new MemoryStrategy.Session() { } : MemoryStrategy.Session.compose(sessions);
            Optimizer opt = optimizer.equals("adamw") ? new AdamWOptimizer() : new AdafactorOptimizer();
            OptimizerState state = new OptimizerState(job);
            Random r = new Random(0);
            BlockPool.resetPeak();
            for (int s = -1; s < steps; s++) {
                long[] ids = r.longs((long) batch * seq, 0, lm.vocabSize()).toArray();
                try (Scope step = Scope.open("step")) {
                    try (MemoryStrategy.Region region = memory.forward()) {
                        Tensor logits = lm.forward(Tensors.ofLongs(be, ids, batch, seq), null, null); // [b, t, vocab]
                        long[] targets = new long[ids.length];
                        for (int i = 0; i < ids.length; i++) {
                            targets[i] = (i + 1) % seq == 0 ? -100 : ids[i + 1];
                        }
                        Tensor loss = F.crossEntropy(Views.reshape(logits, batch * seq, -1), Tensors.ofLongs(be, targets, ids.length), -100,
                                F.Reduction.MEAN);
                        Autograd.backward(memory.scaleLoss(loss));
                    }
                    boolean finite = memory.unscale(trainable);
                    if (finite) {
                        opt.step(trainable, state, opt.defaultConfig(), 1e-4);
                    }
                    memory.update(finite);
                    Autograd.zeroGrad(trainable.stream().map(Parameter::value).toList());
                }
                if (Boolean.getBoolean("plan.debug")) {
                    System.out.println("DEBUG after step " + s + ": live " + BlockPool.liveBytes() + " reserved " + BlockPool.reservedBytes() + " peak " + BlockPool.peakBytes());
                }
            }
            return BlockPool.peakBytes();
        }
    }
}
