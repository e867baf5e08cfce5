package ai.attune.runtime.model;

import ai.attune.api.io.AtomicDirectory;
import ai.attune.api.io.SafetensorsReader;
import ai.attune.api.io.SafetensorsWriter;
import ai.attune.api.io.TensorInfo;
import ai.attune.api.model.ModelConfig;
import ai.attune.api.model.ModelDirectoryWriter;
import ai.attune.api.model.ModelJson;
import ai.attune.api.model.QuantizedCheckpoint;
import ai.attune.api.spi.QuantizedTensor;
import ai.attune.api.spi.Quantizer;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * Writes a quantized copy of a model directory, as transformers saves a bitsandbytes 4-bit model:
 * the model is loaded through a {@link QuantizedCheckpoint} that quantizes each Linear weight as it
 * comes off the mapped file, the quantized parts are written in their places, every other tensor
 * is copied byte for byte, and config.json gains a {@code quantization_config}.
 */
public final class ModelQuantizer {
    /** What was quantized: Linear weights, their parameters, and the bytes their parts take. */
    public record Summary(int weights, long parameters, long bytes) {
        /** Stored bits per quantized parameter, codes and all scales and state included. */
        public double bitsPerParameter() {
            return parameters == 0 ? 0 : bytes * 8.0 / parameters;
        }
    }

    private final ModelLoader loader;

    public ModelQuantizer(ModelLoader loader) {
        this.loader = loader;
    }

    /** Quantizes {@code dir}'s Linear weights with {@code quantizer} into the new directory {@code out}. */
    public <C> Summary write(Path dir, Quantizer<C> quantizer, C config, QuantizationConfig block, Backend backend, Path out) throws IOException {
        ModelConfig modelConfig = ModelConfig.read(dir);
        if (QuantizationConfig.read(modelConfig).isPresent()) {
            throw modelConfig.error("key '" + QuantizationConfig.KEY + "': this model is quantized already; quantize the original one");
        }
        try (Scope job = Scope.open("quantize");
             QuantizedCheckpoint checkpoint = QuantizedCheckpoint.quantizing(SafetensorsReader.openModelDir(dir), quantizer, config)) {
            loader.family(modelConfig).load(modelConfig, checkpoint, backend, DType.F32, job);
            Map<String, QuantizedTensor> quantized = checkpoint.loaded();
            AtomicDirectory.create(out, tmp -> {
                writeWeights(checkpoint.raw(), quantized, tmp.resolve(SafetensorsReader.SINGLE_FILE));
                ModelDirectoryWriter.copyCompanions(dir, tmp);
                ObjectNode json = (ObjectNode) ModelJson.readObject(dir.resolve("config.json"));
                json.set(QuantizationConfig.KEY, block.toJson());
                Files.delete(tmp.resolve("config.json")); // the copy keeps the source's mode, which may be read-only
                Files.writeString(tmp.resolve("config.json"), new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(json));
            });
            long params = quantized.values().stream().mapToLong(QuantizedTensor::numel).sum();
            long bytes = quantized.values().stream().mapToLong(QuantizedTensor::storedBytes).sum();
            return new Summary(quantized.size(), params, bytes);
        }
    }

    /** Every tensor of {@code raw} under its name: the quantized ones as their parts, the rest as stored. */
    private static void writeWeights(SafetensorsReader raw, Map<String, QuantizedTensor> quantized, Path file) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            SafetensorsWriter w = new SafetensorsWriter().putMetadata("format", "pt");
            for (String name : raw.names()) {
                QuantizedTensor q = quantized.get(name);
                if (q == null) {
                    TensorInfo info = raw.info(name);
                    w.add(name, info.dtype(), info.shape(), raw.data(name));
                    continue;
                }
                for (Map.Entry<String, Tensor> part : q.checkpointTensors(name).entrySet()) {
                    Tensor t = part.getValue();
                    w.add(part.getKey(), t.dtype(), ModelDirectoryWriter.longs(t.shape()), ModelDirectoryWriter.bytes(t, arena));
                }
            }
            w.write(file);
        }
    }
}
