package ai.attune.plugins.qlora;

import ai.attune.api.io.AtomicDirectory;
import ai.attune.api.nn.LinearLayer;
import ai.attune.api.nn.Module;
import ai.attune.api.nn.Parameter;
import ai.attune.api.spi.Method;
import ai.attune.api.spi.MethodContext;
import ai.attune.api.spi.Metrics;
import ai.attune.api.spi.QuantizedWeight;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/**
 * QLoRA (Dettmers et al. 2023): LoRA adapters trained over a base whose Linear weights are 4-bit,
 * each dequantized for its product. The adapters are the installed LoRA method's, reached through
 * the registry, so its config keys, initialisation and PEFT directory are LoRA's own; this method
 * adds the requirement of a quantized base and records the quantization beside the adapter.
 */
@Component(service = Method.class, property = Method.PROPERTY + "=qlora")
public final class QloraMethod implements Method<Object> {
    /** Beside the PEFT files: the quantization the adapter was trained against, as a recipe's {@code quantization:} block. */
    public static final String QUANTIZATION_FILE = "quantization_config.json";

    private final Method<Object> lora;

    @Activate
    @SuppressWarnings("unchecked")
    public QloraMethod(@Reference(target = "(" + Method.PROPERTY + "=lora)") Method<?> lora) {
        this.lora = (Method<Object>) lora;
    }

    @Override
    public Class<Object> configType() {
        return lora.configType();
    }

    @Override
    public Object defaultConfig() {
        return lora.defaultConfig();
    }

    /** LoRA's keys, in LoRA's {@code lora:} block. */
    @Override
    public String configKey() {
        return "lora";
    }

    @Override
    public List<Parameter> apply(Module model, Object config, MethodContext context) throws IOException {
        QuantizationRecord.of(model); // refuses a dense base before any adapter is attached
        return lora.apply(model, config, context);
    }

    /** LoRA's PEFT directory, with {@value #QUANTIZATION_FILE} beside its files, written as one directory. */
    @Override
    public void save(Module model, Object config, MethodContext context, Path out) throws IOException {
        ObjectNode quantization = QuantizationRecord.of(model);
        AtomicDirectory.create(out, tmp -> {
            Path peft = tmp.resolve("peft");
            lora.save(model, config, context, peft);
            try (Stream<Path> files = Files.list(peft)) {
                for (Path f : files.toList()) {
                    Files.move(f, tmp.resolve(f.getFileName()));
                }
            }
            Files.delete(peft);
            Files.writeString(tmp.resolve(QUANTIZATION_FILE), new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(quantization));
        });
    }

    @Override
    public void metrics(Module model, Object config, Metrics sink) {
        lora.metrics(model, config, sink);
    }

    /** The quantized Linears of a model, for the check and the record. */
    static Stream<QuantizedWeight> quantized(Module model) {
        return model.namedModules().values().stream()
                .filter(m -> m instanceof LinearLayer l && l.weightSource() instanceof QuantizedWeight)
                .map(m -> (QuantizedWeight) ((LinearLayer) m).weightSource());
    }
}
