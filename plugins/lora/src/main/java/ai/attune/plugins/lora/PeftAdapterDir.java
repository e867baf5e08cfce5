package ai.attune.plugins.lora;

import ai.attune.api.io.AtomicDirectory;
import ai.attune.api.io.SafetensorsFile;
import ai.attune.api.io.SafetensorsWriter;
import ai.attune.api.model.ModelDirectoryWriter;
import ai.attune.api.model.ModelLoadException;
import ai.attune.api.model.Weights;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/**
 * A PEFT LoRA adapter directory: {@code adapter_config.json} and {@code adapter_model.safetensors}
 * whose keys are {@code base_model.model.<module path>.lora_A.weight} [r, in] and
 * {@code .lora_B.weight} [out, r], the names {@code PeftModel.save_pretrained} writes.
 */
final class PeftAdapterDir {
    static final String CONFIG = "adapter_config.json";
    static final String WEIGHTS = "adapter_model.safetensors";
    private static final String PREFIX = "base_model.model.";

    private PeftAdapterDir() {}

    static String keyA(String path) {
        return PREFIX + path + "." + LoraLayer.LORA_A + ".weight";
    }

    static String keyB(String path) {
        return PREFIX + path + "." + LoraLayer.LORA_B + ".weight";
    }

    /**
     * Writes the directory under a temporary name beside {@code out} and renames it into place, so
     * a half-written adapter never exists under its final name.
     */
    static void write(Path out, ObjectNode config, Map<String, LoraLayer> layers) throws IOException {
        AtomicDirectory.create(out, tmp -> {
            try (Arena arena = Arena.ofConfined(); Scope staging = Scope.open("lora-save")) {
                SafetensorsWriter w = new SafetensorsWriter().putMetadata("format", "pt");
                for (Map.Entry<String, LoraLayer> e : layers.entrySet()) {
                    add(w, keyA(e.getKey()), e.getValue().loraA().weight().value(), arena);
                    add(w, keyB(e.getKey()), e.getValue().loraB().weight().value(), arena);
                }
                w.write(tmp.resolve(WEIGHTS));
                Files.writeString(tmp.resolve(CONFIG), new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(config));
            }
        });
    }

    private static void add(SafetensorsWriter w, String key, Tensor t, Arena arena) {
        w.add(key, t.dtype(), ModelDirectoryWriter.longs(t.shape()), ModelDirectoryWriter.bytes(t, arena));
    }

    /**
     * Copies A and B of every layer from the adapter in {@code dir}, converting dtypes. Shapes must
     * match (so must the rank), every layer must be in the file, and the file must adapt no module
     * the targets leave out, since those weights would silently be dropped.
     */
    static void load(Path dir, Map<String, LoraLayer> layers) throws IOException {
        Path file = dir.resolve(WEIGHTS);
        try (SafetensorsFile st = SafetensorsFile.open(file)) {
            Set<String> claimed = new HashSet<>();
            for (Map.Entry<String, LoraLayer> e : layers.entrySet()) {
                String path = e.getKey();
                for (String key : new String[] {keyA(path), keyB(path)}) {
                    if (!st.contains(key)) {
                        throw new ModelLoadException(file, "has no tensor '" + key + "' for target module '" + path
                                + "': the adapter was trained on other target_modules");
                    }
                    claimed.add(key);
                }
                Weights.copyInto(st, keyA(path), e.getValue().loraA().weight().value());
                Weights.copyInto(st, keyB(path), e.getValue().loraB().weight().value());
            }
            for (String key : new java.util.TreeSet<>(st.names())) {
                if (!claimed.contains(key)) {
                    throw new ModelLoadException(file, "tensor '" + key + "' is not the A or B of a module target_modules "
                            + "selects; adapt the same modules the adapter was trained on");
                }
            }
        } catch (NoSuchFileException e) {
            throw new ModelLoadException(file, "not found: init_from " + dir + " is not a PEFT adapter directory");
        }
    }
}
