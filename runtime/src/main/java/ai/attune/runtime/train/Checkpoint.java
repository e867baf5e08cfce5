package ai.attune.runtime.train;

import ai.attune.api.io.AtomicDirectory;
import ai.attune.api.io.SafetensorsFile;
import ai.attune.api.io.SafetensorsWriter;
import ai.attune.api.model.ModelDirectoryWriter;
import ai.attune.api.model.Weights;
import ai.attune.api.nn.Parameter;
import ai.attune.api.spi.OptimizerState;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * A resumable training state: the trainable weights, the optimizer state, and the step and data
 * position. Nothing else is needed to continue bit for bit: data order and dropout masks are pure
 * functions of (seed, position). Written under a temporary name and renamed into place.
 */
final class Checkpoint {
    static final String WEIGHTS = "trainable.safetensors";
    static final String OPTIMIZER = "optimizer.safetensors";
    static final String STATE = "trainer_state.json";

    /** Where training stands: optimizer steps done, the data stream position and the memory strategy's state (the loss scale). */
    record Position(long step, long cursor, Map<String, Double> memory) {
        Position(long step, long cursor) {
            this(step, cursor, Map.of());
        }
    }

    private Checkpoint() {}

    static void save(Path dir, Map<String, Parameter> trainable, OptimizerState opt, Position pos, long seed) throws IOException {
        // A checkpoint of the same step can exist from an earlier attempt of a resumed run: replace it.
        AtomicDirectory.replace(dir, tmp -> {
            try (Arena arena = Arena.ofConfined(); Scope staging = Scope.open("checkpoint")) {
                SafetensorsWriter w = new SafetensorsWriter();
                for (var e : trainable.entrySet()) {
                    add(w, e.getKey(), e.getValue().value(), arena);
                }
                w.write(tmp.resolve(WEIGHTS));
                SafetensorsWriter o = new SafetensorsWriter();
                for (var p : opt.named(trainable).entrySet()) {
                    for (var s : p.getValue().entrySet()) {
                        add(o, p.getKey() + "/" + s.getKey(), s.getValue(), arena);
                    }
                }
                o.write(tmp.resolve(OPTIMIZER));
                ObjectNode state = new ObjectMapper().createObjectNode()
                        .put("step", pos.step()).put("cursor", pos.cursor()).put("optimizer_step", opt.step()).put("seed", seed);
                pos.memory().forEach(state.putObject("memory")::put);
                Files.writeString(tmp.resolve(STATE), state.toPrettyString());
            }
        });
    }

    private static void add(SafetensorsWriter w, String name, Tensor t, Arena arena) {
        w.add(name, t.dtype(), ModelDirectoryWriter.longs(t.shape()), ModelDirectoryWriter.bytes(t, arena));
    }

    /** Loads a checkpoint into the trainable parameters and the optimizer state; returns the position. */
    static Position load(Path dir, Map<String, Parameter> trainable, OptimizerState opt) throws IOException {
        JsonNode state = new ObjectMapper().readTree(Files.readString(dir.resolve(STATE)));
        try (SafetensorsFile w = SafetensorsFile.open(dir.resolve(WEIGHTS)); SafetensorsFile o = SafetensorsFile.open(dir.resolve(OPTIMIZER))) {
            for (var e : trainable.entrySet()) {
                if (!w.contains(e.getKey())) {
                    throw new IOException(dir.resolve(WEIGHTS) + ": no tensor '" + e.getKey() + "': the checkpoint belongs to another method or model");
                }
                Weights.copyInto(w, e.getKey(), e.getValue().value());
            }
            for (String name : o.names()) {
                int slash = name.lastIndexOf('/');
                Parameter p = trainable.get(name.substring(0, slash));
                if (p == null) {
                    throw new IOException(dir.resolve(OPTIMIZER) + ": state '" + name + "' is for a parameter this run does not train");
                }
                long[] shape = o.info(name).shape();
                int[] dims = new int[shape.length];
                for (int i = 0; i < dims.length; i++) {
                    dims[i] = (int) shape[i];
                }
                Tensor t = opt.get(p, name.substring(slash + 1), q -> p.value().backend().zeros(o.info(name).dtype(), dims, opt.scope()));
                Weights.copyInto(o, name, t);
            }
        }
        opt.setStep(state.path("optimizer_step").asLong());
        Map<String, Double> memory = new java.util.TreeMap<>();
        state.path("memory").fields().forEachRemaining(e -> memory.put(e.getKey(), e.getValue().asDouble()));
        return new Position(state.path("step").asLong(), state.path("cursor").asLong(), memory);
    }
}
