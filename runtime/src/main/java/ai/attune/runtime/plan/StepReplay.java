package ai.attune.runtime.plan;

import ai.attune.runtime.plan.Kept.Role;
import ai.attune.runtime.plan.ModelShape.Weight;
import ai.attune.runtime.plan.TrainingSetup.Method;
import ai.attune.runtime.plan.TrainingSetup.Precision;

import java.util.ArrayList;
import java.util.List;

/**
 * A job's tensor allocations replayed through the block pool, in the order the runtime makes them:
 * the weights, then steps of one micro-batch and an optimizer update each, as {@code attune bench}
 * runs them (a warm-up step and two more). The forward's order is {@link ForwardTensors}'.
 * Backward is replayed as release-as-you-go treats a chain of ops: walking the forward's tensors
 * in reverse, each op allocates its input's gradient and then frees its output and the output's
 * gradient; the cross-entropy gradient and the head's weight gradient come out of that walk at the
 * sizes the turn has. Gradients and optimizer state are created on first use, inside the first
 * step, where cached activation blocks may take them.
 */
final class StepReplay {
    static final int STEPS = 3;

    private final ModelShape m;
    private final TrainingSetup t;
    private final Precision p;
    private final PoolReplay pool = new PoolReplay();
    private final List<Long> scoped = new ArrayList<>();

    private StepReplay(ModelShape m, TrainingSetup t) {
        this.m = m;
        this.t = t;
        this.p = t.precision();
    }

    /** The tensor service's peak over a job of {@link #STEPS} steps. */
    static long peak(ModelShape m, TrainingSetup t) {
        StepReplay r = new StepReplay(m, t);
        r.weights();
        for (int s = 0; s < STEPS; s++) {
            r.microBatch(s == 0);
            r.optimizerStep(s == 0);
        }
        return r.pool.peak();
    }

    private void weights() {
        for (Weight w : m.weights()) {
            boolean quantized = t.method() == Method.qlora && w.path().startsWith("model.layers.") && w.matrix();
            pool.take(quantized ? Nf4.bytes(w.elements()) : f32(w.elements()));
        }
        for (Weight w : TrainableTensors.added(m, t)) {
            pool.take(f32(w.elements()));
        }
    }

    /** A held tensor: what it is and the block it got. */
    private record Held(Kept kept, long block) {}

    private void microBatch(boolean first) {
        long stream = Kept.granule(4L * t.microBatch() * t.positions() * m.hidden()); // the residual stream, f32
        List<Held> embedding = new ArrayList<>();
        forward(ForwardTensors.embedding(m, t), embedding, scoped);
        List<List<Held>> layers = new ArrayList<>();
        for (int i = 0; i < m.layers(); i++) {
            List<Held> layer = new ArrayList<>();
            if (t.checkpointing()) {
                // CheckpointedBlock: its output is made first, then the block runs off the tape in a scope of its own,
                // is copied into it, and everything else goes back
                Held output = new Held(new Kept("block output", 0, Kept.Type.F32), pool.take(stream));
                List<Long> block = new ArrayList<>();
                forward(ForwardTensors.layer(m, t, i), layer, block);
                layer.forEach(h -> pool.give(h.block()));
                block.forEach(pool::give);
                layer = new ArrayList<>(List.of(output));
            } else {
                forward(ForwardTensors.layer(m, t, i), layer, scoped);
            }
            layers.add(layer);
        }
        List<Held> head = new ArrayList<>();
        forward(ForwardTensors.head(m, t), head, scoped);

        long gradient = backward(head, 0, first, stream); // the loss's gradient is a scalar
        for (int i = m.layers() - 1; i >= 0; i--) {
            List<Held> layer = layers.get(i);
            List<Long> recomputed = new ArrayList<>(); // a recomputed block's tensors go with its backward's scope
            Held output = null;
            if (t.checkpointing()) {
                output = layer.get(0);
                layer = new ArrayList<>();
                forward(ForwardTensors.layer(m, t, i), layer, recomputed); // recomputed, on the tape this time
            }
            gradient = backward(layer, gradient, first, stream);
            recomputed.forEach(pool::give);
            if (output != null) {
                pool.give(output.block()); // the checkpoint's own output, once its backward has run
            }
            if (t.method() == Method.full) {
                for (ModelShape.Linear l : m.layerLinears(i)) {
                    weightGradient((long) l.in() * l.out(), first);
                }
            }
        }
        gradient = backward(embedding, gradient, first, 0);
        pool.give(gradient);
        if (t.method() == Method.full) {
            weightGradient((long) m.vocab() * m.hidden(), first && !m.tiedEmbeddings()); // the embedding's scatter-add
        }
        if (first) {
            for (Weight w : TrainableTensors.added(m, t)) {
                pool.take(f32(w.elements()));
            }
        }
        for (long b : scoped) {
            pool.give(b);
        }
        scoped.clear();
    }

    /** Allocates {@code tensors} in order: transients come and go, off-tape ones go to {@code scope}, the rest to {@code chain}. */
    private void forward(List<Kept> tensors, List<Held> chain, List<Long> scope) {
        for (Kept k : tensors) {
            long bytes = k.bytes(p);
            if (bytes == 0) {
                continue;
            }
            long block = pool.take(bytes);
            boolean frozenCast = k.role() == Role.WEIGHT_CAST && t.method() != Method.full;
            if (k.role() == Role.TRANSIENT) {
                pool.give(block);
            } else if (k.role() == Role.SCOPED || frozenCast) {
                scope.add(block);
            } else {
                chain.add(new Held(k, block));
            }
        }
    }

    /**
     * Walks {@code tensors} in reverse: the op that made each allocates the gradient of its input
     * (the tensor before it, or {@code inputGradient} bytes for the first), then its output and the
     * output's gradient are freed. A trained weight's cast goes once its segment is done. Returns
     * the gradient left for the segment before.
     */
    private long backward(List<Held> segment, long gradient, boolean firstStep, long inputGradient) {
        List<Held> tensors = segment.stream().filter(h -> h.kept().role() != Role.WEIGHT_CAST).toList();
        for (int k = tensors.size() - 1; k >= 0; k--) {
            Held out = tensors.get(k);
            long in = pool.take(k > 0 ? tensors.get(k - 1).kept().bytes(p) : inputGradient);
            if (out.kept().what().equals("lm_head") && t.method() == Method.full) {
                weightGradient((long) m.vocab() * m.hidden(), firstStep);
            }
            pool.give(out.block());
            pool.give(gradient);
            gradient = in;
        }
        segment.stream().filter(h -> h.kept().role() == Role.WEIGHT_CAST).forEach(h -> pool.give(h.block()));
        return gradient;
    }

    /** A base weight's gradient: computed in the product dtype, accumulated into the f32 .grad, created in the first step. */
    private void weightGradient(long elements, boolean create) {
        long g = pool.take(Kept.granule(elements * Kept.Type.PRODUCT.bytes(p)));
        if (create) {
            pool.take(f32(elements));
        }
        pool.give(g);
    }

    /** State created on first use, then the step's work buffers. */
    private void optimizerStep(boolean first) {
        List<Weight> trained = TrainableTensors.of(m, t);
        List<Long> work = new ArrayList<>();
        for (Weight w : trained) {
            if (first) {
                OptimizerMemory.stateTensors(t.optimizer(), w).forEach(pool::take);
            }
            if (work.isEmpty()) { // WorkBuffers are made at the first tensor's update
                OptimizerMemory.workTensors(t.optimizer(), trained).forEach(b -> work.add(pool.take(b)));
            }
        }
        work.forEach(pool::give);
    }

    private static long f32(long elements) {
        return Kept.granule(4 * elements);
    }
}
