package ai.attune.plugins.optim.adafactor;

import ai.attune.api.nn.Parameter;
import ai.attune.api.optim.WorkBuffers;
import ai.attune.api.spi.Optimizer;
import ai.attune.api.spi.OptimizerState;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.BinaryOp;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.ReduceOp;
import ai.attune.api.tensor.ScalarOp;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Shape;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;
import ai.attune.api.tensor.UnaryOp;
import org.osgi.service.component.annotations.Component;

import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * {@code transformers.optimization.Adafactor} (Shazeer & Stern 2018): the second moment of a
 * matrix is kept as its row and column means, O(n + m) instead of O(n * m); updates are clipped by
 * their RMS; and by default the step size is relative, {@code min(1e-2, 1/sqrt(t))} scaled by the
 * parameter's RMS, so no learning rate is given. Each parameter keeps its own step count, as
 * transformers' {@code state["step"]}.
 *
 * <p>The update follows transformers' {@code step()} op by op in the math dtype: f32 for f32, bf16
 * and f16 parameters (half ones are updated through an f32 copy, as transformers does), f64 for
 * f64. State is kept in that dtype, under transformers' state keys.
 */
@Component(service = Optimizer.class, property = Optimizer.PROPERTY + "=adafactor")
public final class AdafactorOptimizer implements Optimizer<AdafactorConfig> {
    static final String EXP_AVG = "exp_avg";
    static final String EXP_AVG_SQ = "exp_avg_sq";
    static final String EXP_AVG_SQ_ROW = "exp_avg_sq_row";
    static final String EXP_AVG_SQ_COL = "exp_avg_sq_col";
    /** A one-element f64 tensor, so checkpoints carry each parameter's count. */
    static final String STEP = "step";

    /** Work-buffer slots: the update, and a scratch for squares and the weight-decay term. */
    private static final int WORK = 0;
    private static final int SCRATCH = 1;

    @Override
    public Class<AdafactorConfig> configType() {
        return AdafactorConfig.class;
    }

    @Override
    public AdafactorConfig defaultConfig() {
        return AdafactorConfig.DEFAULTS;
    }

    @Override
    public boolean ownsLearningRate(AdafactorConfig config) {
        return config.relativeStep();
    }

    /** {@code lr} is used only without relative_step; with it the step size is computed and lr ignored. */
    @Override
    public void step(List<Parameter> params, OptimizerState state, AdafactorConfig c, double lr) {
        if (!c.relativeStep() && (!(lr >= 0) || Double.isInfinite(lr))) {
            throw new IllegalArgumentException("Adafactor: without relative_step lr must be a finite number >= 0, got " + lr);
        }
        // Checked up front so that a bad parameter leaves none of the others half-stepped.
        long largest = 0;
        for (Parameter param : params) {
            if (param.grad() != null) {
                check(param, state);
                largest = Math.max(largest, param.value().numel());
            }
        }
        try (Scope step = Scope.open("adafactor-step")) {
            WorkBuffers work = new WorkBuffers(step, largest);
            for (Parameter param : params) {
                if (param.grad() != null) {
                    try (Scope tmp = Scope.open("adafactor-parameter")) {
                        update(param, state, c, lr, work, tmp);
                    }
                }
            }
        }
        state.setStep(state.step() + 1);
    }

    private static void update(Parameter param, OptimizerState state, AdafactorConfig c, double lr, WorkBuffers buffers, Scope tmp) {
        Tensor stored = param.value();
        Backend be = stored.backend();
        DType dt = mathType(stored.dtype());
        Tensor p = inMathType(stored, dt, tmp);
        Tensor g = inMathType(param.grad(), dt, tmp);
        int[] shape = p.shape();
        Tensor work = buffers.get(WORK, dt, p);       // the update, until exp_avg takes its place
        Tensor scratch = buffers.get(SCRATCH, dt, p); // squares for the RMS norms, then the decay term

        Tensor stepCount = state.get(param, STEP, q -> be.zeros(DType.F64, new int[] {1}, state.scope()));
        double t = Tensors.item(stepCount) + 1;
        be.fill(stepCount, t);
        double stepSize = stepSize(c, t, c.scaleParameter() ? rms(p, scratch, tmp) : Double.NaN, lr);
        double beta2t = 1 - Math.pow(t, c.decayRate());

        be.unary(UnaryOp.SQUARE, g, work);
        be.scalar(ScalarOp.ADD, work, scalar(c.eps1(), dt), work);
        if (factored(shape)) {
            approxSquaredGradient(be, state, param, work, beta2t, dt, tmp);
        } else {
            Tensor expAvgSq = state.get(param, EXP_AVG_SQ, q -> be.zeros(dt, shape, state.scope()));
            movingAverage(be, expAvgSq, work, beta2t, dt);
            be.unary(UnaryOp.RSQRT, expAvgSq, work);
        }
        be.binary(BinaryOp.MUL, work, g, work);

        // An update whose RMS exceeds clip_threshold is scaled down to it. transformers divides by
        // the clip factor and then multiplies by the step size; one multiply by their quotient
        // saves a pass and differs by an ulp.
        double clip = Math.max(1, round(rms(work, scratch, tmp) / c.clipThreshold(), dt));
        be.scalar(ScalarOp.MUL, work, scalar(round(stepSize, dt) / clip, dt), work);

        Tensor update = work;
        if (c.beta1() != null) {
            update = state.get(param, EXP_AVG, q -> be.zeros(dt, shape, state.scope()));
            movingAverage(be, update, work, c.beta1(), dt);
        }
        if (c.weightDecay() != 0) {
            // p += p * (-weight_decay * step_size): the product is its own op, as in transformers'
            // add_(p, alpha=...), so the small factor is not rounded away inside 1 - wd * step_size.
            Tensor decay = update == work ? scratch : work;
            be.scalar(ScalarOp.MUL, p, scalar(-c.weightDecay() * round(stepSize, dt), dt), decay);
            be.binary(BinaryOp.ADD, p, decay, p);
        }
        be.binary(BinaryOp.SUB, p, update, p);
        if (p != stored) {
            be.copy(p, stored);
        }
    }

    /**
     * Updates the row and column means of {@code work} = g^2 + eps1 into the state, and replaces
     * {@code work} with the inverse square root of their rank-1 estimate of g^2 (transformers'
     * {@code _approx_sq_grad}): {@code rsqrt(row / mean(row))[..., n, 1] * rsqrt(col)[..., 1, m]}.
     */
    private static void approxSquaredGradient(Backend be, OptimizerState state, Parameter param, Tensor work, double beta2t, DType dt, Scope tmp) {
        int[] shape = work.shape();
        int r = shape.length;
        int[] rowShape = rowShape(shape);
        int[] colShape = colShape(shape);
        Tensor row = state.get(param, EXP_AVG_SQ_ROW, q -> be.zeros(dt, rowShape, state.scope())); // [..., n]
        Tensor col = state.get(param, EXP_AVG_SQ_COL, q -> be.zeros(dt, colShape, state.scope())); // [..., m]
        Tensor rowFactor = be.zeros(dt, with(rowShape, 1), tmp);                                    // [..., n, 1]
        Tensor colFactor = be.zeros(dt, with(Arrays.copyOf(shape, r - 2), 1, shape[r - 1]), tmp);   // [..., 1, m]
        be.reduce(ReduceOp.MEAN, work, new int[] {r - 1}, rowFactor);
        be.reduce(ReduceOp.MEAN, work, new int[] {r - 2}, colFactor);
        movingAverage(be, row, view(rowFactor, rowShape), beta2t, dt);
        movingAverage(be, col, view(colFactor, colShape), beta2t, dt);

        Tensor rowMean = be.zeros(dt, with(Arrays.copyOf(shape, r - 2), 1), tmp); // [..., 1]
        be.reduce(ReduceOp.MEAN, row, new int[] {r - 2}, rowMean);
        be.binary(BinaryOp.DIV, row, rowMean, view(rowFactor, rowShape));
        be.unary(UnaryOp.RSQRT, rowFactor, rowFactor);
        be.unary(UnaryOp.RSQRT, col, view(colFactor, colShape));
        // The outer product as a matmul with k = 1: each element is the one rounded product a
        // broadcast multiply gives, computed on the GEMM's threads.
        be.matmul(rowFactor, false, colFactor, false, work);
    }

    /** {@code avg = beta * avg + (1 - beta) * x}, transformers' {@code mul_(beta).add_(x, alpha=1 - beta)}; scales {@code x} in place. */
    private static void movingAverage(Backend be, Tensor avg, Tensor x, double beta, DType dt) {
        be.scalar(ScalarOp.MUL, avg, scalar(beta, dt), avg);
        be.scalar(ScalarOp.MUL, x, scalar(1 - beta, dt), x);
        be.binary(BinaryOp.ADD, avg, x, avg);
    }

    /**
     * transformers' {@code _get_lr}: the relative step {@code min(1e-2, 1/sqrt(t))} (or
     * {@code min(1e-6 t, 1/sqrt(t))} with warmup_init), else the given lr, times
     * {@code max(eps2, rms(p))} under scale_parameter.
     */
    static double stepSize(AdafactorConfig c, double t, double paramRms, double lr) {
        double relative = c.relativeStep() ? Math.min(c.warmupInit() ? 1e-6 * t : 1e-2, 1 / Math.sqrt(t)) : lr;
        double scale = c.scaleParameter() ? Math.max(c.eps2(), paramRms) : 1;
        return scale * relative;
    }

    /** Matrices and stacks of them keep factored second moments; vectors and scalars a full one. */
    static boolean factored(int[] shape) {
        return shape.length >= 2;
    }

    /** {@code exp_avg_sq_row}: the shape without its last dim. */
    static int[] rowShape(int[] shape) {
        return Arrays.copyOf(shape, shape.length - 1);
    }

    /** {@code exp_avg_sq_col}: the shape without its second-to-last dim. */
    static int[] colShape(int[] shape) {
        int[] out = Arrays.copyOf(shape, shape.length - 1);
        out[out.length - 1] = shape[shape.length - 1];
        return out;
    }

    /** The state tensors a parameter of {@code shape} gets, with their shapes (exp_avg only with beta1). */
    static Map<String, int[]> stateShapes(int[] shape) {
        return factored(shape)
                ? Map.of(STEP, new int[] {1}, EXP_AVG, shape, EXP_AVG_SQ_ROW, rowShape(shape), EXP_AVG_SQ_COL, colShape(shape))
                : Map.of(STEP, new int[] {1}, EXP_AVG, shape, EXP_AVG_SQ, shape);
    }

    /**
     * transformers' {@code _rms}, {@code norm(x) / sqrt(numel)}, rounded to the math dtype as torch's
     * norm returns it: the squares go through {@code scratch} and the reduction sums them in its
     * accumulation type (f64 on the jvm backend).
     */
    private static double rms(Tensor x, Tensor scratch, Scope tmp) {
        Backend be = x.backend();
        int[] flat = {Math.toIntExact(x.numel())};
        be.unary(UnaryOp.SQUARE, x, scratch);
        Tensor sum = be.zeros(x.dtype(), new int[] {1}, tmp);
        be.reduce(ReduceOp.SUM, view(scratch, flat), new int[] {0}, sum);
        return round(Math.sqrt(Tensors.item(sum) / x.numel()), x.dtype());
    }

    /** f64 parameters are updated in f64; everything else in f32, as transformers upcasts half gradients and parameters. */
    private static DType mathType(DType dtype) {
        return dtype == DType.F64 ? DType.F64 : DType.F32;
    }

    private static Tensor inMathType(Tensor t, DType dt, Scope tmp) {
        if (t.dtype() == dt) {
            return t;
        }
        Tensor copy = t.backend().zeros(dt, t.shape(), tmp);
        t.backend().copy(t, copy);
        return copy;
    }

    /** A value as an op of the math dtype sees it: Python floats reach f32 kernels as f32. */
    private static double scalar(double value, DType dt) {
        return round(value, dt);
    }

    /** A value rounded as a 0-dim tensor of the math dtype holds it (transformers' RMS values are such tensors). */
    private static double round(double value, DType dt) {
        return dt == DType.F64 ? value : (float) value;
    }

    private static int[] with(int[] head, int... tail) {
        int[] out = Arrays.copyOf(head, head.length + tail.length);
        System.arraycopy(tail, 0, out, head.length, tail.length);
        return out;
    }

    /** A contiguous buffer seen at another shape of the same size. */
    private static Tensor view(Tensor t, int[] shape) {
        return t.asStrided(shape, Shape.contiguousStrides(shape), t.offset());
    }

    private static void check(Parameter param, OptimizerState state) {
        Tensor p = param.value();
        Tensor g = param.grad();
        if (!p.isContiguous()) {
            throw new IllegalArgumentException("Adafactor: parameter " + param.name() + " is a strided view; the update is written in place and needs it contiguous");
        }
        if (!Arrays.equals(p.shape(), g.shape())) {
            throw new IllegalArgumentException("Adafactor: the gradient of " + param.name() + " has shape " + Shape.str(g.shape())
                    + " but the parameter has " + Shape.str(p.shape()));
        }
        if (!p.dtype().isFloatingPoint()) {
            throw new IllegalArgumentException("Adafactor: parameter " + param.name() + " is " + p.dtype() + "; only floating-point parameters can be trained");
        }
        // State restored from a checkpoint must fit: another optimizer's exp_avg_sq, say, would not.
        stateShapes(p.shape()).forEach((key, shape) -> {
            Tensor s = state.find(param, key);
            if (s != null && !Arrays.equals(s.shape(), shape)) {
                throw new IllegalArgumentException("Adafactor: state " + key + " of " + param.name() + " has shape " + Shape.str(s.shape())
                        + " where " + Shape.str(shape) + " is expected; it was not written by Adafactor for this parameter");
            }
        });
    }
}
