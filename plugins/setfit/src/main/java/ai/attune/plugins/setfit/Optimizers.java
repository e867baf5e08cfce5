package ai.attune.plugins.setfit;

import ai.attune.api.nn.Parameter;
import ai.attune.api.spi.ClassifierContext;
import ai.attune.api.spi.Optimizer;
import ai.attune.api.spi.OptimizerState;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** AdamW from the installed optimizer plugin, with one weight decay per parameter group. */
final class Optimizers {
    private final Optimizer<Object> adamw;
    private final OptimizerState state;
    private final ObjectMapper json = new ObjectMapper();
    private final Map<Double, Object> configs = new HashMap<>(); // by weight decay: bound once, not every step

    @SuppressWarnings("unchecked")
    Optimizers(ClassifierContext context) {
        this.adamw = (Optimizer<Object>) context.optimizer("adamw");
        this.state = new OptimizerState(context.scope());
    }

    /** One AdamW update of {@code params} (torch's defaults otherwise) at {@code lr}. */
    void step(List<Parameter> params, double weightDecay, double lr) {
        if (!params.isEmpty()) {
            Object config = configs.computeIfAbsent(weightDecay, wd -> json.convertValue(Map.of("weight_decay", wd), adamw.configType()));
            adamw.step(params, state, config, lr);
        }
    }

    /**
     * Zeroes gradients in place rather than dropping them ({@code zero_grad(set_to_none=False)}):
     * the engine allocates a dropped gradient anew in the parameter's long-lived scope, so a full
     * fine-tune would leak a model's worth of memory every step.
     */
    static void zeroGrad(List<Parameter> params) {
        for (Parameter p : params) {
            if (p.grad() != null) {
                p.grad().backend().fill(p.grad(), 0.0);
            }
        }
    }
}
