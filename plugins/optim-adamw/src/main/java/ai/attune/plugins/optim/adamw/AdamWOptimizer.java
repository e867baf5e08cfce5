package ai.attune.plugins.optim.adamw;

import ai.attune.api.nn.Parameter;
import ai.attune.api.optim.WorkBuffers;
import ai.attune.api.spi.Optimizer;
import ai.attune.api.spi.OptimizerState;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.BinaryOp;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.ScalarOp;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Shape;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;
import ai.attune.api.tensor.UnaryOp;
import org.osgi.service.component.annotations.Component;

import java.util.Arrays;
import java.util.List;

/**
 * {@code torch.optim.AdamW} (the single-tensor path, {@code foreach=False}): Adam (Kingma & Ba
 * 2015) with weight decay decoupled from the gradient (Loshchilov & Hutter 2019), AMSGrad and
 * maximize. Each parameter keeps its own step count, as in torch, so one that first gets a
 * gradient late starts its bias correction at step 1.
 *
 * <p>The update is a sequence of in-place backend kernels over work buffers; every op rounds to
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

    /** Work-buffer slots: one for the running temporary, one for the negated gradient under maximize. */
    private static final int TEMP = 0;
    private static final int NEG_GRAD = 1;

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
        long largest = 0;
        for (Parameter param : params) {
            if (param.grad() != null) {
                check(param, param.value(), param.grad());
                largest = Math.max(largest, param.value().numel());
            }
        }
        try (Scope tmp = Scope.open("adamw-step")) {
            WorkBuffers work = new WorkBuffers(tmp, largest);
            for (Parameter param : params) {
                if (param.grad() != null) {
                    update(param, state, c, lr, work);
                }
            }
        }
        state.setStep(state.step() + 1);
    }

    private static void update(Parameter param, OptimizerState state, AdamWConfig c, double lr, WorkBuffers work) {
        Tensor p = param.value();
        Tensor g = param.grad();
        Backend be = p.backend();
        DType dt = p.dtype();
        Tensor stepCount = state.get(param, STEP, q -> be.zeros(DType.F64, new int[] {1}, state.scope()));
        Tensor expAvg = state.get(param, EXP_AVG, q -> be.zeros(dt, p.shape(), state.scope()));
        Tensor expAvgSq = state.get(param, EXP_AVG_SQ, q -> be.zeros(dt, p.shape(), state.scope()));
        double t = Tensors.item(stepCount) + 1;
        be.fill(stepCount, t);

        if (c.maximize()) {
            Tensor neg = work.get(NEG_GRAD, dt, p);
            be.unary(UnaryOp.NEG, g, neg);
            g = neg;
        }
        // Decoupled decay: shrink the weights directly instead of adding wd * p to the gradient,
        // so the decay is not rescaled by the adaptive denominator.
        if (c.weightDecay() != 0) {
            be.scalar(ScalarOp.MUL, p, scalar(1 - lr * c.weightDecay(), dt), p);
        }
        Tensor temp = work.get(TEMP, dt, p);
        lerpInPlace(be, expAvg, g, scalar(1 - c.beta1(), dt), temp, dt);

        // exp_avg_sq = beta2 * exp_avg_sq + ((1 - beta2) * g) * g, torch's mul_ then addcmul_
        be.scalar(ScalarOp.MUL, g, scalar(1 - c.beta2(), dt), temp);
        be.binary(BinaryOp.MUL, temp, g, temp);
        be.scalar(ScalarOp.MUL, expAvgSq, scalar(c.beta2(), dt), expAvgSq);
        be.binary(BinaryOp.ADD, expAvgSq, temp, expAvgSq);

        Tensor secondMoment = expAvgSq;
        if (c.amsgrad()) {
            Tensor max = state.get(param, MAX_EXP_AVG_SQ, q -> be.zeros(dt, p.shape(), state.scope()));
            be.binary(BinaryOp.MAXIMUM, max, expAvgSq, max);
            secondMoment = max;
        }

        // The moments start at 0 and are biased towards it; dividing by 1 - beta^t undoes that.
        double biasCorrection1 = 1 - Math.pow(c.beta1(), t);
        double biasCorrection2 = 1 - Math.pow(c.beta2(), t);
        double stepSize = lr / biasCorrection1;
        // denom = sqrt(v) / sqrt(bc2) + eps; ScalarOp has no division, so multiply by the reciprocal
        be.unary(UnaryOp.SQRT, secondMoment, temp);
        be.scalar(ScalarOp.MUL, temp, scalar(1 / Math.sqrt(biasCorrection2), dt), temp);
        be.scalar(ScalarOp.ADD, temp, scalar(c.eps(), dt), temp);
        // p += -step_size * exp_avg / denom (addcdiv_)
        be.binary(BinaryOp.DIV, expAvg, temp, temp);
        be.scalar(ScalarOp.MUL, temp, scalar(-stepSize, dt), temp);
        be.binary(BinaryOp.ADD, p, temp, p);
    }

    /**
     * {@code self.lerp_(end, w)} with the two-sided formula torch's kernel uses, which is exact at
     * both ends: {@code self + w * (end - self)} for w < 0.5, else {@code end - (end - self) * (1 - w)}.
     */
    private static void lerpInPlace(Backend be, Tensor self, Tensor end, double w, Tensor temp, DType dt) {
        be.binary(BinaryOp.SUB, end, self, temp);
        if (w < 0.5) {
            be.scalar(ScalarOp.MUL, temp, w, temp);
            be.binary(BinaryOp.ADD, self, temp, self);
        } else {
            be.scalar(ScalarOp.MUL, temp, scalar(1 - w, dt), temp);
            be.binary(BinaryOp.SUB, end, temp, self);
        }
    }

    /** A Python float as torch's kernels see it: f64 for f64 tensors, else f32 (the math type of f32, bf16 and f16). */
    private static double scalar(double value, DType dtype) {
        return dtype == DType.F64 ? value : (float) value;
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
