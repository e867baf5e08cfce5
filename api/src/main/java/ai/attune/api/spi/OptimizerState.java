package ai.attune.api.spi;

import ai.attune.api.nn.Parameter;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;

import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Function;

/**
 * Per-parameter optimizer state (PyTorch's {@code optimizer.state}): tensors such as
 * {@code momentum_buffer} or {@code exp_avg}, keyed by the parameter object (a parameter's own
 * name is only its attribute name; checkpoints get dotted paths from {@link #named}). It is owned by the job,
 * lives in the job's scope and is saved in checkpoints, so optimizer plugins stay stateless and
 * can be swapped between steps.
 */
public final class OptimizerState {
    private final Scope scope;
    private final Map<Parameter, Map<String, Tensor>> tensors = new IdentityHashMap<>();
    private long step;

    public OptimizerState(Scope scope) {
        this.scope = scope;
    }

    /** The state tensor {@code key} of a parameter, created in the state's scope on first use. */
    public Tensor get(Parameter p, String key, Function<Parameter, Tensor> init) {
        Map<String, Tensor> own = tensors.computeIfAbsent(p, n -> new LinkedHashMap<>());
        Tensor t = own.get(key);
        if (t == null) {
            t = scope.within(() -> init.apply(p));
            own.put(key, t);
        }
        return t;
    }

    /** The state tensor if present, else null. */
    public Tensor find(Parameter p, String key) {
        Map<String, Tensor> own = tensors.get(p);
        return own == null ? null : own.get(key);
    }

    /** The state of the given named parameters, for checkpoints: dotted name to (key to tensor). */
    public Map<String, Map<String, Tensor>> named(Map<String, Parameter> parameters) {
        Map<String, Map<String, Tensor>> out = new LinkedHashMap<>();
        parameters.forEach((name, p) -> {
            Map<String, Tensor> own = tensors.get(p);
            if (own != null) {
                out.put(name, own);
            }
        });
        return out;
    }

    public Scope scope() {
        return scope;
    }

    /** Number of optimizer steps taken so far. */
    public long step() {
        return step;
    }

    public void setStep(long step) {
        this.step = step;
    }
}
