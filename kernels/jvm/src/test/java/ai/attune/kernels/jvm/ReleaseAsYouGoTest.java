package ai.attune.kernels.jvm;

import ai.attune.api.autograd.Autograd;
import ai.attune.api.autograd.Function;
import ai.attune.api.autograd.Ops;
import ai.attune.api.tensor.BlockPool;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The tensor service's own count of live bytes through one step of a deep chain: it rises through
 * forward and, with release-as-you-go, falls through backward; without it, it keeps rising as
 * gradients pile up. Gradients are the same bits either way.
 */
class ReleaseAsYouGoTest {
    static final int LAYERS = 6;
    static final int BATCH = 64;
    static final int DIM = 96;
    private final JvmBackend be = new JvmBackend();

    /** Identity whose backward notes the live bytes when backpropagation reaches it. */
    static final class Probe extends Function {
        final List<Long> seen;

        Probe(List<Long> seen) {
            this.seen = seen;
        }

        @Override
        protected Tensor[] forward(Context ctx, Tensor... in) {
            return new Tensor[] {Ops.mulScalar(in[0], 1.0)};
        }

        @Override
        protected Tensor[] backward(Context ctx, Tensor... g) {
            seen.add(BlockPool.liveBytes());
            return new Tensor[] {g[0]};
        }
    }

    record Step(List<Long> forward, List<Long> backward, long peak, List<double[]> grads) {}

    Step step(boolean release) {
        Autograd.setReleaseAsYouGo(release);
        Random r = new Random(3);
        List<Long> fwd = new ArrayList<>();
        List<Long> bwd = new ArrayList<>();
        try (Scope s = Scope.open("step")) {
            List<Tensor> weights = new ArrayList<>();
            for (int l = 0; l < LAYERS; l++) {
                weights.add(Tensors.of(be, DType.F32, r.doubles(DIM * DIM).map(v -> (v - 0.5) / 5).toArray(), DIM, DIM).requiresGrad(true));
            }
            Tensor h = Tensors.of(be, DType.F32, r.doubles(BATCH * DIM).toArray(), BATCH, DIM).requiresGrad(true);
            BlockPool.resetPeak();
            for (Tensor w : weights) {
                h = new Probe(bwd).apply(Ops.tanh(Ops.matmul(h, w)))[0];
                fwd.add(BlockPool.liveBytes());
            }
            Autograd.backward(Ops.sum(Ops.mul(h, h)));
            long peak = BlockPool.peakBytes();
            List<double[]> grads = weights.stream().map(w -> Tensors.toDoubles(w.grad())).toList();
            return new Step(fwd, bwd, peak, grads);
        } finally {
            Autograd.setReleaseAsYouGo(true);
        }
    }

    @AfterEach
    void on() {
        Autograd.setReleaseAsYouGo(true);
    }

    @Test
    void liveBytesRiseThroughForwardAndFallThroughBackward() {
        Step on = step(true);
        Step off = step(false);
        for (int i = 1; i < LAYERS; i++) {
            assertTrue(on.forward().get(i) > on.forward().get(i - 1), "forward keeps each layer's activations: " + on.forward());
        }
        // backward meets the probes last layer first
        for (int i = 1; i < LAYERS; i++) {
            assertTrue(on.backward().get(i) < on.backward().get(i - 1), "released as backward goes: " + on.backward());
            assertTrue(off.backward().get(i) > off.backward().get(i - 1), "kept to the end without it: " + off.backward());
        }
        long layer = on.forward().get(1) - on.forward().get(0); // one layer's activations
        assertTrue(on.peak() + 2 * layer <= off.peak(), "peak " + on.peak() + " with release, " + off.peak() + " without; a layer is " + layer);
        for (int l = 0; l < LAYERS; l++) {
            assertArrayEquals(off.grads().get(l), on.grads().get(l), 0.0, "layer " + l + " gradient is the same bits");
        }
        assertEquals(on.forward(), off.forward(), "forward is untouched");
    }
}
