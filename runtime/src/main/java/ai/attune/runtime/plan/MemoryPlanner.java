package ai.attune.runtime.plan;

import ai.attune.runtime.plan.Kept.Type;
import ai.attune.runtime.plan.MemoryPlan.Phase;
import ai.attune.runtime.plan.MemoryPlan.Row;
import ai.attune.runtime.plan.ModelShape.Weight;
import ai.attune.runtime.plan.TrainingSetup.Method;
import ai.attune.runtime.plan.TrainingSetup.Precision;

import java.util.ArrayList;
import java.util.List;

/**
 * Plans one training step's peak memory from the model's shape and the recipe, without running
 * anything. Weights, their gradients and the optimizer state live for the whole job; a micro-batch
 * adds its activations and, at its peak, whatever backward or the optimizer step allocates then.
 * The peak is the largest of three moments (see {@link Phase}).
 */
public final class MemoryPlanner {
    private final RuntimeOverhead runtime;

    public MemoryPlanner(RuntimeOverhead runtime) {
        this.runtime = runtime;
    }

    public MemoryPlan plan(ModelShape m, TrainingSetup t) {
        TrainingSetup other = new TrainingSetup(t.method(), t.lora(), t.adapterReduction(), t.virtualTokens(), t.microBatch(), t.accumulation(),
                t.seqLen(), t.precision(), t.optimizer(), !t.checkpointing());
        List<Row> rows = tensorRows(m, t, peak(m, t));
        List<Row> toggled = tensorRows(m, other, peak(m, other));
        rows.add(new Row("runtime", runtime.describe(), runtime.bytes()));
        return new MemoryPlan(m, t, rows, peak(m, t).phase(), toggled.stream().filter(r -> r.component().equals("activations")).findFirst().orElseThrow(),
                toggled.stream().mapToLong(Row::bytes).sum() + runtime.bytes());
    }

    /** The tensor service's rows: what each component needs, then what the pool's block reuse adds to their sum. */
    private static List<Row> tensorRows(ModelShape m, TrainingSetup t, Peak peak) {
        List<Row> rows = new ArrayList<>(weights(m, t));
        List<Weight> trained = TrainableTensors.of(m, t);
        rows.add(new Row("gradients", String.format("f32, %s trained parameters", ModelShape.count(TrainableTensors.count(trained))), f32(trained)));
        rows.add(new Row("optimizer state", OptimizerMemory.describe(t.optimizer()), OptimizerMemory.state(t.optimizer(), trained)));
        rows.add(activationsRow(peak, t));
        rows.add(new Row("workspace", peak.workspaceDetail(), peak.workspace()));
        long exact = rows.stream().mapToLong(Row::bytes).sum();
        rows.add(new Row("pool", "blocks reused at up to twice a request's size (the block pool over three steps)",
                Math.max(0, StepReplay.peak(m, t) - exact)));
        return rows;
    }

    private static Row activationsRow(Peak p, TrainingSetup t) {
        String ckpt = t.checkpointing() ? "with gradient checkpointing" : "without checkpointing";
        return new Row("activations", ckpt + ", " + p.activationsDetail(), p.activations());
    }

    /** The base weights by dtype (f32 master weights; NF4 for a QLoRA base), then the method's added tensors. */
    private static List<Row> weights(ModelShape m, TrainingSetup t) {
        List<Row> rows = new ArrayList<>();
        if (t.method() == Method.qlora) {
            List<Weight> quantized = new ArrayList<>();
            List<Weight> rest = new ArrayList<>();
            for (Weight w : m.weights()) {
                (w.path().startsWith("model.layers.") && w.matrix() ? quantized : rest).add(w);
            }
            rows.add(new Row("weights", String.format("nf4, %s parameters of the decoder layers' linears", ModelShape.count(TrainableTensors.count(quantized))),
                    quantized.stream().mapToLong(w -> Nf4.bytes(w.elements())).sum()));
            rows.add(new Row("weights", String.format("f32, %s parameters (embeddings, norms)", ModelShape.count(TrainableTensors.count(rest))), f32(rest)));
        } else {
            rows.add(new Row("weights", String.format("f32, %s parameters", ModelShape.count(m.parameterCount())), f32(m.weights())));
        }
        List<Weight> added = TrainableTensors.added(m, t);
        if (!added.isEmpty()) {
            rows.add(new Row("weights", String.format("f32, %s %s parameters", ModelShape.count(TrainableTensors.count(added)), t.method()), f32(added)));
        }
        return rows;
    }

    /** The micro-batch's share at the step's peak: activations kept for backward and the workspace beside them. */
    record Peak(Phase phase, long activations, String activationsDetail, long workspace, String workspaceDetail) {}

    static Peak peak(ModelShape m, TrainingSetup t) {
        Precision p = t.precision();
        long n = (long) t.microBatch() * t.positions();
        List<Kept> oneLayer = ForwardTensors.layer(m, t, 0);
        List<Kept> headTensors = ForwardTensors.head(m, t);
        long layer = Kept.total(oneLayer, p);
        long inputs = Kept.total(ForwardTensors.embedding(m, t), p);
        long head = Kept.total(headTensors, p);
        // A checkpointed block runs its forward off the tape and keeps only its f32 input; backward recomputes it.
        long blockInputs = m.layers() * Kept.granule(4 * n * m.hidden());
        long layers = t.checkpointing() ? blockInputs : m.layers() * layer;
        String kept = t.checkpointing()
                ? String.format("%d block inputs of %s", m.layers(), ByteSize.format(blockInputs / m.layers()))
                : String.format("%d layers x %s", m.layers(), ByteSize.format(layer));
        long forward = inputs + layers + head;
        long casts = (t.checkpointing() ? 0 : m.layers() * Kept.casts(oneLayer, p)) + Kept.casts(headTensors, p);
        String castNote = casts > 0 ? " (" + ByteSize.format(casts) + " of them " + p + " weight casts)" : "";

        long turn = turnWorkspace(m, t, n);
        long block = blockGradients(m, t, n);
        // Backward reaches the top block once the head's tensors are gone; checkpointing recomputes the block first.
        long blockActs = forward - head + (t.checkpointing() ? layer : 0);
        long step = OptimizerMemory.stepWork(t.optimizer(), TrainableTensors.of(m, t));

        Peak best = new Peak(Phase.TURN, forward, kept + " + " + ByteSize.format(inputs + head) + " embeddings, logits and loss" + castNote,
                turn, "cross-entropy gradient and the head's gradients at the turn");
        if (blockActs + block > best.activations() + best.workspace()) {
            best = new Peak(Phase.BLOCK_BACKWARD, blockActs, kept + " + one recomputed layer" + castNote, block, "gradients inside a block's backward");
        }
        if (step > best.activations() + best.workspace()) {
            best = new Peak(Phase.OPTIMIZER_STEP, 0, "none alive during the optimizer step", step, t.optimizer().name() + " step buffers");
        }
        return best;
    }

    /**
     * What the top of backward adds to the forward's tensors. fp32: cross-entropy's gradient
     * [tokens, vocab], then the head's input gradient and, when the head is trained, its weight
     * gradient. Under autocast the f32 logits' gradient is first cast back to the product dtype
     * (both alive), and the head's products run through f32 accumulators.
     */
    static long turnWorkspace(ModelShape m, TrainingSetup t, long n) {
        long v = m.vocab();
        long h = m.hidden();
        boolean headWeight = t.method() == Method.full;
        if (ForwardTensors.fusedHead(m, t)) {
            // Forward's last moment: one chunk's logits and their gradient; backward's first: the
            // saved input gradient scaled into a new tensor.
            long c = Math.min(n, ai.attune.api.autograd.F.linearCrossEntropyChunkRows((int) v, ai.attune.api.tensor.DType.F32));
            return Math.max(2 * Kept.granule(4 * c * v) + 2 * Kept.granule(4 * c), Kept.granule(4 * n * h));
        }
        if (!t.precision().autocast()) {
            return Kept.granule(4 * n * v) + Kept.granule(4 * n * h) + (headWeight ? Kept.granule(4 * v * h) : 0);
        }
        long castBack = Kept.granule(4 * n * v) + Kept.granule(2 * n * v);
        long headGrads = -Kept.granule(4 * n * v) + Kept.granule(2 * n * v) + Kept.granule(2 * n * h) + (headWeight ? Kept.granule(2 * v * h) : 0)
                + Math.max(Kept.granule(4 * n * h), headWeight ? Kept.granule(4 * v * h) : 0);
        return Math.max(castBack, headGrads);
    }

    /**
     * Gradients alive inside one decoder layer's backward, at the SwiGLU product: the product's and
     * its two factors' gradients, and, when base weights train, one projection's weight gradient;
     * beside them f32 [tokens, hidden] tensors the residual stream holds: the upstream gradient,
     * the pending gradients of the two residual sums, and, for a checkpointed block, the
     * recomputed output its inner backward keeps; under autocast three more, the f32 gradients of
     * the norms' outputs meeting the casts' gradients. The [tokens, hidden] count is calibrated on
     * checkpointed LoRA steps of small Llamas (PlanAgainstTensorPeakTest), where this moment is the peak.
     */
    static long blockGradients(ModelShape m, TrainingSetup t, long n) {
        long product = Type.PRODUCT.bytes(t.precision());
        long stream = (t.precision().autocast() ? 7 : 4) * Kept.granule(4 * n * m.hidden());
        return stream + 3 * Kept.granule(product * n * m.intermediate())
                + (t.method() == Method.full ? Kept.granule(4L * m.hidden() * m.intermediate()) : 0);
    }

    private static long f32(List<Weight> weights) {
        return weights.stream().mapToLong(w -> Kept.granule(4 * w.elements())).sum();
    }
}
