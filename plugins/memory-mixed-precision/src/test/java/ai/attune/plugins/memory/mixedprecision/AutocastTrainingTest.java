package ai.attune.plugins.memory.mixedprecision;

import ai.attune.api.autograd.Autograd;
import ai.attune.api.autograd.F;
import ai.attune.api.autograd.Ops;
import ai.attune.api.nn.Linear;
import ai.attune.api.nn.Parameter;
import ai.attune.api.spi.MemoryStrategy;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;
import ai.attune.kernels.jvm.JvmBackend;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A two-layer classifier trained with plain SGD in f32, in bf16 autocast and in f16 autocast with
 * loss scaling, from the same start: the products run in low precision, the weights and their
 * gradients stay f32, and the low-precision loss curves end where the f32 one does.
 */
class AutocastTrainingTest {
    private static final JvmBackend BE = new JvmBackend();
    private static final int N = 64, IN = 16, HIDDEN = 32, CLASSES = 4, STEPS = 60;

    private static double[] random(Random r, int n, double scale) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = r.nextGaussian() * scale;
        }
        return v;
    }

    /** Loss per step; {@code config} null trains in f32. */
    private static List<Double> train(MixedPrecisionConfig config) {
        Random r = new Random(1);
        double[] x = random(r, N * IN, 1.0);
        long[] y = new long[N];
        for (int i = 0; i < N; i++) {
            y[i] = Math.floorMod((int) Math.signum(x[i * IN]) + 2 * (int) Math.signum(x[i * IN + 1]), CLASSES);
        }
        double[] w1 = random(r, HIDDEN * IN, 0.25);
        double[] w2 = random(r, CLASSES * HIDDEN, 0.25);
        List<Double> losses = new ArrayList<>();
        try (Scope run = Scope.open("run")) {
            Linear l1 = new Linear(new Parameter("w1", Tensors.of(BE, DType.F32, w1, HIDDEN, IN), true), null);
            Linear l2 = new Linear(new Parameter("w2", Tensors.of(BE, DType.F32, w2, CLASSES, HIDDEN), true), null);
            List<Parameter> params = List.of(l1.weight(), l2.weight());
            for (Parameter p : params) {
                p.value().requiresGrad(true);
            }
            MemoryStrategy.Session session = config == null ? new MemoryStrategy.Session() { } : new MixedPrecision().apply(l1, config);
            Tensor xs = Tensors.of(BE, DType.F32, x, N, IN);
            Tensor ys = Tensors.ofLongs(BE, y, N);
            for (int step = 0; step < STEPS; step++) {
                try (Scope s = Scope.open("step")) {
                    try (MemoryStrategy.Region region = session.forward()) {
                        Tensor h = l1.forward(xs);
                        if (config != null) {
                            assertEquals(config.dtype().equals("fp16") ? DType.F16 : DType.BF16, h.dtype(), "products run low precision");
                        }
                        Tensor loss = F.crossEntropy(l2.forward(F.relu(h)), ys, -100, F.Reduction.MEAN);
                        assertEquals(DType.F32, loss.dtype(), "the loss stays f32");
                        losses.add(Tensors.item(loss)); // before backward, which gives the unscaled loss's memory back
                        Autograd.backward(session.scaleLoss(loss));
                    }
                    boolean ok = session.unscale(params);
                    assertTrue(ok, "no overflow at step " + step);
                    for (Parameter p : params) {
                        assertEquals(DType.F32, p.grad().dtype(), "gradients of the master weights are f32");
                        BE.binary(ai.attune.api.tensor.BinaryOp.SUB, p.value(), Ops.mulScalar(p.grad(), 0.5), p.value());
                        BE.fill(p.grad(), 0.0);
                    }
                    session.update(ok);
                }
            }
        }
        return losses;
    }

    @Test
    void bf16AndF16LossCurvesFollowTheF32One() {
        List<Double> f32 = train(null);
        List<Double> bf16 = train(new MixedPrecisionConfig("bf16", 65536, 2, 0.5, 2000));
        List<Double> f16 = train(new MixedPrecisionConfig("fp16", 1024, 2, 0.5, 2000));
        System.out.printf("final loss: f32 %.5f, bf16 %.5f, f16 %.5f (start %.5f)%n", f32.getLast(), bf16.getLast(), f16.getLast(), f32.getFirst());
        assertTrue(f32.getLast() < 0.5 * f32.getFirst(), "the f32 run learns: " + f32);
        for (int i = 0; i < STEPS; i++) {
            assertEquals(f32.get(i), bf16.get(i), 0.02 * f32.get(i) + 1e-3, "bf16 step " + i);
            assertEquals(f32.get(i), f16.get(i), 0.005 * f32.get(i) + 1e-4, "f16 step " + i);
        }
    }
}
