package ai.attune.plugins.lora;

import ai.attune.api.autograd.F;
import ai.attune.api.autograd.GradMode;
import ai.attune.api.autograd.Ops;
import ai.attune.api.autograd.Views;
import ai.attune.api.nn.DropoutSeeds;
import ai.attune.api.nn.Linear;
import ai.attune.api.nn.LinearLayer;
import ai.attune.api.tensor.BinaryOp;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;

import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;

/**
 * PEFT's {@code lora.Linear} as an adapter on a {@link LinearLayer}:
 * {@code y = base(x) + lora_B(lora_A(dropout(x))) * scaling}. {@code lora_A} [r, in] and
 * {@code lora_B} [out, r] are bias-free Linears registered as children of the base layer, so their
 * parameters are named {@code <path>.lora_A.weight} and {@code <path>.lora_B.weight} as in PEFT.
 * The LoRA path is the same for fan_in_fan_out layers (GPT-2's Conv1D); only merging transposes.
 */
public final class LoraLayer implements LinearLayer.Adapter {
    public static final String LORA_A = "lora_A";
    public static final String LORA_B = "lora_B";

    private final LinearLayer base;
    private final Linear loraA;
    private final Linear loraB;
    private final double scaling;
    private final double dropout;
    private final DropoutSeeds seeds;
    private boolean merged;

    private LoraLayer(LinearLayer base, Linear loraA, Linear loraB, double scaling, double dropout, DropoutSeeds seeds) {
        this.base = base;
        this.loraA = loraA;
        this.loraB = loraB;
        this.scaling = scaling;
        this.dropout = dropout;
        this.seeds = seeds;
    }

    /**
     * Adds a rank-{@code r} adapter to {@code layer}, with A and B zero; the caller initialises
     * them. New parameters are {@code dtype}, owned by {@code scope}, and trainable.
     */
    static LoraLayer attach(LinearLayer layer, int r, double scaling, double dropout, DropoutSeeds seeds,
                            DType dtype, Scope scope) {
        var be = layer.weight().value().backend();
        Linear a = new Linear(be, dtype, scope, layer.inFeatures(), r, false); // weight [r, in]
        Linear b = new Linear(be, dtype, scope, r, layer.outFeatures(), false); // weight [out, r]
        a.setTraining(layer.isTraining());
        b.setTraining(layer.isTraining());
        layer.addChild(LORA_A, a);
        layer.addChild(LORA_B, b);
        LoraLayer lora = new LoraLayer(layer, a, b, scaling, dropout, seeds);
        layer.addAdapter(lora);
        return lora;
    }

    /** x [..., in], y = base(x) [..., out]. */
    @Override
    public Tensor adapt(Tensor x, Tensor y) {
        if (merged) {
            return y; // the update already sits in the base weight
        }
        Tensor in = Ops.to(x, loraA.weight().value().dtype()); // PEFT runs the LoRA path in the adapter's dtype
        if (dropout > 0 && base.isTraining()) {
            in = F.dropout(in, dropout, seeds.next(), true);
        }
        Tensor h = F.linear(in, loraA.weight().value(), null); // [..., r]
        // PEFT scales B·h, [..., out]; scaling h, [..., r], instead costs r/out of that pass and its
        // backward. With alpha/r a power of two (the default 16/8) both round identically.
        Tensor d = F.linear(scaling == 1 ? h : Ops.mulScalar(h, scaling), loraB.weight().value(), null); // [..., out]
        return Ops.add(y, Ops.to(d, y.dtype()));
    }

    /**
     * Fills A with kaiming-uniform values (a = sqrt(5), so U(-1/sqrt(in), 1/sqrt(in)), as
     * {@code nn.Linear} and PEFT's default init) and B with zeros, so the adapted model starts equal
     * to the base. The stream is seeded from the run seed and the module path, so a layer's values
     * do not depend on which other layers are adapted or in what order.
     */
    void initKaimingUniform(long runSeed, String path) {
        Tensor a = loraA.weight().value();
        double bound = 1.0 / Math.sqrt(a.size(1));
        SplittableRandom rng = new SplittableRandom(seedFor(runSeed, path));
        double[] values = new double[Math.toIntExact(a.numel())];
        for (int i = 0; i < values.length; i++) {
            values[i] = rng.nextDouble(-bound, bound);
        }
        try (Scope tmp = Scope.open("lora-init")) {
            a.backend().copy(Tensors.of(a.backend(), a.dtype(), values, a.shape()), a);
        }
        loraB.weight().value().backend().fill(loraB.weight().value(), 0.0);
    }

    /** SplitMix64 over the run seed and a 64-bit FNV-1a hash of the path. */
    static long seedFor(long runSeed, String path) {
        long h = 0xcbf29ce484222325L;
        for (byte c : path.getBytes(StandardCharsets.UTF_8)) {
            h = (h ^ (c & 0xff)) * 0x100000001b3L;
        }
        long z = runSeed ^ (h * 0x9E3779B97F4A7C15L + 0x632BE59BD9B4E019L);
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** Adds {@code scaling * B @ A} into the base weight and bypasses the LoRA path; a no-op when merged. */
    public void merge() {
        if (!merged) {
            applyDelta(BinaryOp.ADD);
            merged = true;
        }
    }

    /** Subtracts the update merged by {@link #merge()} and re-enables the LoRA path; a no-op when not merged. */
    public void unmerge() {
        if (merged) {
            applyDelta(BinaryOp.SUB);
            merged = false;
        }
    }

    private void applyDelta(BinaryOp op) {
        Tensor w = base.weight().value(); // [out, in], or [in, out] for fan_in_fan_out
        try (Scope tmp = Scope.open("lora-merge"); GradMode.Region ng = GradMode.noGrad()) {
            Tensor delta = Ops.mulScalar(Ops.matmul(loraB.weight().value(), loraA.weight().value()), scaling); // [out, in]
            if (base.fanInFanOut()) {
                delta = Views.transpose(delta, 0, 1); // [in, out], as the base stores it
            }
            w.backend().binary(op, w, Ops.to(delta, w.dtype()), w);
        }
    }

    public LinearLayer base() {
        return base;
    }

    /** {@code lora_A}: weight [r, in]. */
    public Linear loraA() {
        return loraA;
    }

    /** {@code lora_B}: weight [out, r]. */
    public Linear loraB() {
        return loraB;
    }

    public int rank() {
        return loraA.weight().value().size(0);
    }

    public double scaling() {
        return scaling;
    }

    public double dropout() {
        return dropout;
    }

    public boolean merged() {
        return merged;
    }
}
