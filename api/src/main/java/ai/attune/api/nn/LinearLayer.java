package ai.attune.api.nn;

import ai.attune.api.autograd.Ops;
import ai.attune.api.autograd.Views;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A linear map {@code y = x W^T + b} whatever the weight's layout: [out, in] as
 * {@code torch.nn.Linear}, or [in, out] ({@link #fanInFanOut()}) as GPT-2's Conv1D. It is the one
 * place fine-tuning methods hook into: an adapter sees the input and the base output and returns
 * the adapted output (LoRA adds {@code B A x}); a quantizer swaps the base weight for a
 * {@link WeightSource} ({@link #setWeightSource}), which multiplies for each product without
 * staying dense, whatever the family. Adapters register their own parameters as children of the
 * layer, so their paths read {@code q_proj.lora_A.weight}, as PEFT names them.
 */
public abstract class LinearLayer extends Module {
    /** A change to a layer's output, given its input. */
    @FunctionalInterface
    public interface Adapter {
        /** x [..., in], y the base output [..., out]; returns the adapted [..., out]. */
        Tensor adapt(Tensor x, Tensor y);
    }

    private final List<Adapter> adapters = new ArrayList<>();
    private WeightSource weightSource;
    private DType computeDtype;
    private String weightKey; // the attribute name the weight had among the module's parameters

    /** The base weight: [out, in], or [in, out] when {@link #fanInFanOut()}. */
    public abstract Parameter weight();

    /** The bias [out], or null. */
    public abstract Parameter bias();

    /** Whether the weight is stored [in, out] (PEFT's {@code fan_in_fan_out}). */
    public abstract boolean fanInFanOut();

    /** The base map without adapters. */
    protected abstract Tensor base(Tensor x);

    public int inFeatures() {
        return weight().value().size(fanInFanOut() ? 0 : 1);
    }

    public int outFeatures() {
        return weight().value().size(fanInFanOut() ? 1 : 0);
    }

    /** x [..., in] to [..., out]: the base map, then each adapter in the order added. */
    public final Tensor forward(Tensor x) {
        Tensor y = weightSource == null ? base(x) : sourcedBase(x);
        for (Adapter a : adapters) {
            y = a.adapt(x, y);
        }
        return y;
    }

    /**
     * Replaces the dense base weight with {@code source}: the weight is frozen, its memory given
     * back, and {@link #weight()} keeps its name and shape (for {@link #inFeatures()} and adapters
     * that read the dtype or backend) over a single NaN, so a stray read of the old values shows.
     * It leaves the module's parameters, so optimizers, writers and counts see only dense ones. The
     * layer must own its weight: a weight tied to another module (an output head sharing the input
     * embedding) stays dense.
     */
    public final void setWeightSource(WeightSource source) {
        Parameter w = weight();
        Tensor dense = w.value();
        if (!Arrays.equals(source.shape(), dense.shape())) {
            throw new IllegalArgumentException("weight source of shape " + Arrays.toString(source.shape()) + " for " + w.name() + " of shape "
                    + Arrays.toString(dense.shape()));
        }
        Tensor nan = dense.backend().zeros(dense.dtype(), new int[] {1}, dense.storage().scope());
        dense.backend().fill(nan, Double.NaN);
        w.setTrainable(false);
        w.set(nan.asStrided(dense.shape(), new long[dense.rank()], 0));
        dense.storage().release();
        weightKey = ownParameters().entrySet().stream().filter(e -> e.getValue() == w).map(java.util.Map.Entry::getKey).findFirst().orElse("weight");
        unregister(w);
        this.weightSource = source;
        this.computeDtype = dense.dtype();
    }

    /**
     * Undoes {@link #setWeightSource}: the weight becomes the source's dense value (a quantized
     * weight's dequantization) in the layer's dtype, allocated where the placeholder lives, and a
     * parameter of the module again. A merge that writes a full model (an adapter trained over a
     * 4-bit base) adds to this value, the weight the adapter was trained against.
     */
    public final void densifyWeight() {
        if (weightSource == null) {
            return;
        }
        Parameter w = weight();
        Tensor placeholder = w.value();
        Tensor dense = placeholder.storage().scope().within(() -> weightSource.materialize(computeDtype));
        w.set(dense);
        register(weightKey, w);
        weightSource = null;
    }

    /** The source standing for the base weight, or null while the weight is the dense {@link #weight()}. */
    public final WeightSource weightSource() {
        return weightSource;
    }

    /**
     * The base map over the source: {@code x W^T + b} (or {@code x W + b} fan-in-fan-out) with W in
     * the layer's dtype, multiplied by the source for the product and again for its backward (made
     * dense for each alone, or never), as {@code F.linear} computes it for a dense weight.
     */
    private Tensor sourcedBase(Tensor x) {
        int[] xs = x.shape();
        Tensor x2 = Views.reshape(x, -1, inFeatures()); // [rows, in]
        Tensor y = Ops.matmul(x2, (left, t) -> weightSource.matmul(left, t, computeDtype), !fanInFanOut()); // [rows, out]
        Parameter b = bias();
        if (b != null) {
            y = Ops.add(y, Ops.to(b.value(), y.dtype())); // under autocast the bias joins the product's dtype, as in F.linear
        }
        int[] ys = xs.clone();
        ys[ys.length - 1] = outFeatures();
        return Views.reshape(y, ys);
    }

    public void addAdapter(Adapter adapter) {
        adapters.add(adapter);
    }

    public void removeAdapter(Adapter adapter) {
        adapters.remove(adapter);
    }

    public List<Adapter> adapters() {
        return List.copyOf(adapters);
    }
}
