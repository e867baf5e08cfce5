package com.example.attune.lion;

import ai.attune.api.nn.Parameter;
import ai.attune.api.spi.Optimizer;
import ai.attune.api.spi.OptimizerState;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.BinaryOp;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.ScalarOp;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Shape;
import ai.attune.api.tensor.Tensor;
import org.osgi.service.component.annotations.Component;

import java.util.Arrays;
import java.util.List;

/**
 * Lion, "EvoLved Sign Momentum" (X. Chen et al., "Symbolic Discovery of Optimization Algorithms",
 * NeurIPS 2023, https://arxiv.org/abs/2302.06675), as lucidrains' lion-pytorch implements it. Per
 * parameter with a gradient g and momentum m ({@code exp_avg}, zero at first):
 *
 * <pre>
 *   p *= 1 - lr * weight_decay
 *   c  = beta1 * m + (1 - beta1) * g
 *   p -= lr * sign(c)
 *   m  = beta2 * m + (1 - beta2) * g
 * </pre>
 *
 * Every element moves by exactly lr (or not at all where c is 0), which is why Lion wants a
 * learning rate 3-10x smaller than AdamW's. Stateless: the momentum lives in the job's
 * {@link OptimizerState}, so the bundle can be replaced between steps.
 */
@Component(service = Optimizer.class, property = Optimizer.PROPERTY + "=lion")
public final class LionOptimizer implements Optimizer<LionConfig> {
    /** lion-pytorch's state key; checkpoints save it under this name. */
    static final String EXP_AVG = "exp_avg";

    @Override
    public Class<LionConfig> configType() {
        return LionConfig.class;
    }

    @Override
    public LionConfig defaultConfig() {
        return LionConfig.DEFAULTS;
    }

    @Override
    public void step(List<Parameter> params, OptimizerState state, LionConfig c, double lr) {
        if (!(lr >= 0) || Double.isInfinite(lr)) {
            throw new IllegalArgumentException("Lion: lr must be a finite number >= 0, got " + lr);
        }
        // Checked up front so that a bad parameter leaves none of the others half-stepped.
        for (Parameter param : params) {
            if (param.grad() != null) {
                check(param, param.value(), param.grad());
            }
        }
        for (Parameter param : params) {
            if (param.grad() != null) {
                // One scope per parameter: its temporaries are freed before the next one's are made.
                try (Scope tmp = Scope.open("lion-step")) {
                    update(param, state, c, lr, tmp);
                }
            }
        }
        state.setStep(state.step() + 1);
    }

    private static void update(Parameter param, OptimizerState state, LionConfig c, double lr, Scope tmp) {
        Tensor p = param.value();
        Tensor g = param.grad();
        Backend be = p.backend();
        DType dt = p.dtype();
        Tensor expAvg = state.get(param, EXP_AVG, q -> be.zeros(dt, p.shape(), state.scope()));
        Tensor update = be.zeros(dt, p.shape(), tmp);
        Tensor temp = be.zeros(dt, p.shape(), tmp);

        if (c.weightDecay() != 0) {
            be.scalar(ScalarOp.MUL, p, scalar(1 - lr * c.weightDecay(), dt), p);
        }
        // c = beta1 * m + (1 - beta1) * g
        be.scalar(ScalarOp.MUL, expAvg, scalar(c.beta1(), dt), update);
        be.scalar(ScalarOp.MUL, g, scalar(1 - c.beta1(), dt), temp);
        be.binary(BinaryOp.ADD, update, temp, update);
        sign(be, update, temp, tmp);
        // p += -lr * sign(c): sign is -1, 0 or 1, so the product is exact
        be.scalar(ScalarOp.MUL, update, scalar(-lr, dt), update);
        be.binary(BinaryOp.ADD, p, update, p);
        // m = beta2 * m + (1 - beta2) * g, after the update: the momentum used next step includes this g
        be.scalar(ScalarOp.MUL, expAvg, scalar(c.beta2(), dt), expAvg);
        be.scalar(ScalarOp.MUL, g, scalar(1 - c.beta2(), dt), temp);
        be.binary(BinaryOp.ADD, expAvg, temp, expAvg);
    }

    /**
     * {@code x = sign(x)} in place, as torch.sign: 1, -1, and 0 at 0. The api has no sign op, so
     * it is (x > 0) - (0 > x), against a zero of x's rank that broadcasts to x's shape.
     */
    private static void sign(Backend be, Tensor x, Tensor temp, Scope tmp) {
        int[] ones = new int[x.shape().length];
        Arrays.fill(ones, 1);
        Tensor zero = be.zeros(x.dtype(), ones, tmp);
        be.binary(BinaryOp.GT, x, zero, temp);
        be.binary(BinaryOp.GT, zero, x, x);
        be.binary(BinaryOp.SUB, temp, x, x);
    }

    /** A Python float as torch's kernels see it: f64 for f64 tensors, else f32 (the math type of f32, bf16 and f16). */
    private static double scalar(double value, DType dtype) {
        return dtype == DType.F64 ? value : (float) value;
    }

    private static void check(Parameter param, Tensor p, Tensor g) {
        if (!p.isContiguous()) {
            throw new IllegalArgumentException("Lion: parameter " + param.name() + " is a strided view; the update is written in place and needs it contiguous");
        }
        if (!Arrays.equals(p.shape(), g.shape())) {
            throw new IllegalArgumentException("Lion: the gradient of " + param.name() + " has shape " + Shape.str(g.shape())
                    + " but the parameter has " + Shape.str(p.shape()));
        }
        if (!p.dtype().isFloatingPoint()) {
            throw new IllegalArgumentException("Lion: parameter " + param.name() + " is " + p.dtype() + "; only floating-point parameters can be trained");
        }
    }
}
