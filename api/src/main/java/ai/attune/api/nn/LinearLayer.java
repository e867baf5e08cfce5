package ai.attune.api.nn;

import ai.attune.api.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * A linear map {@code y = x W^T + b} whatever the weight's layout: [out, in] as
 * {@code torch.nn.Linear}, or [in, out] ({@link #fanInFanOut()}) as GPT-2's Conv1D. It is the one
 * place fine-tuning methods hook into: an adapter sees the input and the base output and returns
 * the adapted output (LoRA adds {@code B A x}); a quantizer swaps the base weight through
 * {@link #weight()}. Adapters register their own parameters as children of the layer, so their
 * paths read {@code q_proj.lora_A.weight}, as PEFT names them.
 */
public abstract class LinearLayer extends Module {
    /** A change to a layer's output, given its input. */
    @FunctionalInterface
    public interface Adapter {
        /** x [..., in], y the base output [..., out]; returns the adapted [..., out]. */
        Tensor adapt(Tensor x, Tensor y);
    }

    private final List<Adapter> adapters = new ArrayList<>();

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
        Tensor y = base(x);
        for (Adapter a : adapters) {
            y = a.adapt(x, y);
        }
        return y;
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
