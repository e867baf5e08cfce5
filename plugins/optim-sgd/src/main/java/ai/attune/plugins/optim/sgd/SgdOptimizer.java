package ai.attune.plugins.optim.sgd;

import ai.attune.api.nn.Parameter;
import ai.attune.api.spi.Optimizer;
import ai.attune.api.spi.OptimizerState;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.BinaryOp;
import ai.attune.api.tensor.ScalarOp;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import org.osgi.service.component.annotations.Component;

import java.util.List;

/** {@code torch.optim.SGD} (single-tensor path): weight decay, momentum with dampening, Nesterov, maximize. */
@Component(service = Optimizer.class, property = Optimizer.PROPERTY + "=sgd")
public final class SgdOptimizer implements Optimizer<SgdConfig> {
    static final String MOMENTUM_BUFFER = "momentum_buffer";

    @Override
    public Class<SgdConfig> configType() {
        return SgdConfig.class;
    }

    @Override
    public SgdConfig defaultConfig() {
        return SgdConfig.DEFAULTS;
    }

    @Override
    public void step(List<Parameter> params, OptimizerState state, SgdConfig c, double lr) {
        try (Scope tmp = Scope.open("sgd-step")) {
            for (Parameter param : params) {
                Tensor g = param.grad();
                if (g == null) {
                    continue;
                }
                Tensor p = param.value();
                Backend be = p.backend();
                // d_p: the direction, in a temporary so the stored gradient is left as backward wrote it.
                Tensor dp = be.zeros(p.dtype(), p.shape(), tmp);
                be.scalar(ScalarOp.MUL, g, c.maximize() ? -1.0 : 1.0, dp);
                if (c.weightDecay() != 0) {
                    Tensor decay = be.zeros(p.dtype(), p.shape(), tmp);
                    be.scalar(ScalarOp.MUL, p, c.weightDecay(), decay);
                    be.binary(BinaryOp.ADD, dp, decay, dp);
                }
                if (c.momentum() != 0) {
                    Tensor buf = state.find(param, MOMENTUM_BUFFER);
                    if (buf == null) {
                        buf = state.get(param, MOMENTUM_BUFFER, q -> be.zeros(p.dtype(), p.shape(), state.scope()));
                        be.copy(dp, buf);
                    } else {
                        Tensor scaled = be.zeros(p.dtype(), p.shape(), tmp);
                        be.scalar(ScalarOp.MUL, dp, 1.0 - c.dampening(), scaled);
                        be.scalar(ScalarOp.MUL, buf, c.momentum(), buf);
                        be.binary(BinaryOp.ADD, buf, scaled, buf);
                    }
                    if (c.nesterov()) {
                        Tensor look = be.zeros(p.dtype(), p.shape(), tmp);
                        be.scalar(ScalarOp.MUL, buf, c.momentum(), look);
                        be.binary(BinaryOp.ADD, dp, look, dp);
                    } else {
                        be.copy(buf, dp);
                    }
                }
                be.scalar(ScalarOp.MUL, dp, -lr, dp);
                be.binary(BinaryOp.ADD, p, dp, p);
            }
        }
        state.setStep(state.step() + 1);
    }
}
