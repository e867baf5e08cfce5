package ai.attune.api.model;

import ai.attune.api.io.SafetensorsReader;
import ai.attune.api.io.TensorInfo;
import ai.attune.api.nn.Module;
import ai.attune.api.nn.Parameter;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;

import java.io.IOException;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.Set;
import java.util.function.UnaryOperator;

/**
 * Fills a module tree from a checkpoint: each parameter's dotted name is looked up (after an
 * optional rename), its shape checked, and its bytes converted to the parameter's dtype. Tied
 * parameters (the same object under two names) load once. From a {@link QuantizedCheckpoint},
 * Linear weights load as quantized sources instead.
 */
public final class Weights {
    private Weights() {}

    /** Loads every parameter of {@code root}; {@code checkpointName} maps a module path to the file's tensor name. */
    public static void load(Module root, SafetensorsReader reader, UnaryOperator<String> checkpointName) throws IOException {
        if (reader instanceof QuantizedCheckpoint quantized) {
            quantized.attach(root, checkpointName); // its Linear weights leave the parameters, so the copy below passes them by
        }
        Map<Parameter, String> loaded = new IdentityHashMap<>();
        Map<String, Parameter> params = root.namedParameters();
        for (Map.Entry<String, Parameter> e : params.entrySet()) {
            Parameter p = e.getValue();
            String name = checkpointName.apply(e.getKey());
            if (loaded.containsKey(p) && !reader.contains(name)) {
                continue; // tied to a parameter already loaded under another name
            }
            if (!reader.contains(name)) {
                throw new ModelLoadException(reader.path(), "missing weight '" + name + "' of shape " + Arrays.toString(p.value().shape()));
            }
            copyInto(reader, name, p.value());
            loaded.put(p, name);
        }
    }

    /** Copies the checkpoint tensor {@code name} into {@code target}, converting its dtype; the shape must match. */
    public static void copyInto(SafetensorsReader reader, String name, Tensor target) throws IOException {
        TensorInfo info = reader.info(name);
        int[] shape = toInts(info.shape());
        if (!Arrays.equals(shape, target.shape())) {
            throw new ModelLoadException(reader.path(), "weight '" + name + "' has shape " + Arrays.toString(shape)
                    + ", expected " + Arrays.toString(target.shape()));
        }
        Backend be = target.backend();
        if (info.dtype() == target.dtype()) {
            be.copyFromBytes(reader.data(name), target);
            return;
        }
        try (Scope staging = Scope.detached("load")) {
            Tensor raw = be.zeros(info.dtype(), shape, staging);
            be.copyFromBytes(reader.data(name), raw);
            be.copy(raw, target);
        }
    }

    /**
     * Before a module is built: the checkpoint must hold {@code name} with the {@code shape} that
     * the config keys {@code keys} give it. A size that does not describe the weights would
     * otherwise be allocated first (vocab_size 2^31 with hidden_size 64 is 512 GiB) and refused
     * only when the weights are copied; here it is refused naming the keys, with nothing allocated.
     */
    public static void expectShape(SafetensorsReader reader, ModelConfig config, String name, String keys, long... shape)
            throws IOException {
        String from = " (from " + config.file().getFileName() + "'s " + keys + ")";
        if (!reader.contains(name)) {
            throw new ModelLoadException(reader.path(), "missing weight '" + name + "' of shape " + Arrays.toString(shape) + from);
        }
        long[] actual = reader.info(name).shape();
        if (!Arrays.equals(actual, shape)) {
            throw new ModelLoadException(reader.path(), "weight '" + name + "' has shape " + Arrays.toString(actual) + ", expected "
                    + Arrays.toString(shape) + from);
        }
    }

    /** Names in the checkpoint that no parameter claimed, e.g. to warn about an unexpected layout. */
    public static Set<String> unused(Module root, SafetensorsReader reader, UnaryOperator<String> checkpointName) {
        Set<String> names = new java.util.TreeSet<>(reader.names());
        root.namedParameters().keySet().forEach(n -> names.remove(checkpointName.apply(n)));
        return names;
    }

    static int[] toInts(long[] shape) {
        int[] out = new int[shape.length];
        for (int i = 0; i < shape.length; i++) {
            out[i] = Math.toIntExact(shape[i]);
        }
        return out;
    }
}
