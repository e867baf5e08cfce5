package ai.attune.plugins.optim.adamw;

import ai.attune.api.nn.Parameter;
import ai.attune.api.spi.Optimizer;
import ai.attune.api.spi.OptimizerState;
import ai.attune.api.tensor.AdamWStep;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Shape;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;
import org.osgi.service.component.annotations.Component;

import java.util.Arrays;
import java.util.List;

/**
 * {@code torch.optim.AdamW} (the single-tensor path, {@code foreach=False}): Adam (Kingma & Ba
 * 2015) with weight decay decoupled from the gradient (Loshchilov & Hutter 2019), AMSGrad and
 * maximize. Each parameter keeps its own step count, as in torch, so one that first gets a
 * gradient late starts its bias correction at step 1.
 *
 * <p>Each parameter's update is one {@link Backend#adamwStep}: on the jvm backend a single
 * Vector API pass over parameter, gradient and moments for f32 parameters, elsewhere (bf16, f16
 * and f64 parameters, other backends) the composed in-place kernels. Either way every op rounds to
 * the parameter's dtype as torch's do, and scalars are rounded to f32 for non-f64 parameters as
 * torch converts a Python float to the kernel's f32 math type.
 *
 * <p>Also registered as {@code paged_adamw_32bit}, transformers' name for bitsandbytes'
 * {@code PagedAdamW32bit}: paging moves optimizer state between GPU and host memory, and the state
 * here is in host memory already. The update stays torch's: bitsandbytes' 32-bit kernel decays
 * after the Adam step rather than before, which scales each step by a further
 * {@code 1 - lr * weight_decay}, and it ignores {@code amsgrad}.
 */
@Component(service = Optimizer.class, property = {Optimizer.PROPERTY + "=adamw", Optimizer.PROPERTY + "=paged_adamw_32bit"})
public final class AdamWOptimizer implements Optimizer<AdamWConfig> {
    static final String EXP_AVG = "exp_avg";
    static final String EXP_AVG_SQ = "exp_avg_sq";
    static final String MAX_EXP_AVG_SQ = "max_exp_avg_sq";
    /** A one-element f64 tensor, so checkpoints carry each parameter's count (torch stores a scalar tensor too). */
    static final String STEP = "step";

    @Override
    public Class<AdamWConfig> configType() {
        return AdamWConfig.class;
    }

    @Override
    public AdamWConfig defaultConfig() {
        return AdamWConfig.DEFAULTS;
    }

    @Override
    public void step(List<Parameter> params, OptimizerState state, AdamWConfig c, double lr) {
        if (!(lr >= 0) || Double.isInfinite(lr)) {
            throw new IllegalArgumentException("AdamW: lr must be a finite number >= 0, got " + lr);
        }
        // Checked up front so that a bad parameter leaves none of the others half-stepped.
        for (Parameter param : params) {
            if (param.grad() != null) {
                check(param, param.value(), param.grad());
            }
        }
        for (Parameter param : params) {
            if (param.grad() != null) {
                update(param, state, c, lr);
            }
        }
        state.setStep(state.step() + 1);
    }

    private static void update(Parameter param, OptimizerState state, AdamWConfig c, double lr) {
        Tensor p = param.value();
        Backend be = p.backend();
        DType dt = p.dtype();
        Tensor stepCount = state.get(param, STEP, q -> be.zeros(DType.F64, new int[] {1}, state.scope()));
        Tensor expAvg = state.get(param, EXP_AVG, q -> be.zeros(dt, p.shape(), state.scope()));
        Tensor expAvgSq = state.get(param, EXP_AVG_SQ, q -> be.zeros(dt, p.shape(), state.scope()));
        Tensor maxExpAvgSq = c.amsgrad() ? state.get(param, MAX_EXP_AVG_SQ, q -> be.zeros(dt, p.shape(), state.scope())) : null;
        long t = (long) Tensors.item(stepCount) + 1;
        be.fill(stepCount, t);
        AdamWStep h = new AdamWStep(lr, c.beta1(), c.beta2(), c.eps(), c.weightDecay(), c.maximize(), t);
        be.adamwStep(h, p, param.grad(), expAvg, expAvgSq, maxExpAvgSq);
    }

    private static void check(Parameter param, Tensor p, Tensor g) {
        if (!p.isContiguous()) {
            throw new IllegalArgumentException("AdamW: parameter " + param.name() + " is a strided view; the update is written in place and needs it contiguous");
        }
        if (!Arrays.equals(p.shape(), g.shape())) {
            throw new IllegalArgumentException("AdamW: the gradient of " + param.name() + " has shape " + Shape.str(g.shape())
                    + " but the parameter has " + Shape.str(p.shape()));
        }
        if (!p.dtype().isFloatingPoint()) {
            throw new IllegalArgumentException("AdamW: parameter " + param.name() + " is " + p.dtype() + "; only floating-point parameters can be trained");
        }
    }
}
