package ai.attune.runtime.cli;

import ai.attune.api.spi.Quantizer;
import ai.attune.runtime.host.AttuneRuntime;
import ai.attune.runtime.host.RuntimeLayout;
import ai.attune.runtime.model.ModelLoader;
import ai.attune.runtime.model.ModelQuantizer;
import ai.attune.runtime.model.QuantizationConfig;
import com.fasterxml.jackson.databind.ObjectMapper;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/** {@code attune quantize}: a model directory with its Linear weights in bitsandbytes 4-bit, as transformers saves one. */
@Command(name = "quantize", description = "Write a copy of a model with its Linear weights quantized to 4 bits (bitsandbytes NF4 or FP4, "
        + "as transformers saves a load_in_4bit model).")
public final class QuantizeCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "DIR", description = "The Hugging Face model directory to quantize.")
    String model;

    @Option(names = "--type", required = true, paramLabel = "nf4|fp4", description = "The 4-bit code (bnb_4bit_quant_type).")
    String type;

    @Option(names = "--double-quant", description = "Quantize the absmax scales too (bnb_4bit_use_double_quant).")
    boolean doubleQuant;

    @Option(names = "--blocksize", paramLabel = "N", defaultValue = "64", description = "Elements per absmax scale (default: ${DEFAULT-VALUE}).")
    int blocksize;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Where the quantized model goes; must not exist yet.")
    Path out;

    @Override
    public void run() {
        if (Files.exists(out)) {
            throw new IllegalArgumentException(out + ": already exists; choose a new output directory");
        }
        try (AttuneRuntime rt = AttuneRuntime.boot(RuntimeLayout.fromSystem())) {
            ModelLoader loader = new ModelLoader(rt.plugins());
            Quantizer<?> quantizer = loader.quantizer(type, "--type");
            ModelQuantizer.Summary s = write(loader, quantizer);
            spec.commandLine().getErr().printf("attune: quantized %d Linear weights (%d parameters) to %s%s: %d bytes, %.3f bits per parameter%n",
                    s.weights(), s.parameters(), type, doubleQuant ? " with double quantization" : "", s.bytes(), s.bitsPerParameter());
            spec.commandLine().getOut().println(out);
        } catch (IOException e) {
            throw new UncheckedIOException(e.getMessage(), e);
        }
    }

    private <C> ModelQuantizer.Summary write(ModelLoader loader, Quantizer<C> quantizer) throws IOException {
        C config = config(quantizer);
        QuantizationConfig block = new QuantizationConfig(type, doubleQuant, "float32");
        return new ModelQuantizer(loader).write(ModelLoader.resolve(model), quantizer, config, block, loader.backend(null), out);
    }

    /** The options as the quantizer's config, under BitsAndBytesConfig's key names; a refused value is named by its option. */
    private <C> C config(Quantizer<C> quantizer) {
        try {
            return new ObjectMapper().convertValue(Map.of("bnb_4bit_blocksize", blocksize, "bnb_4bit_use_double_quant", doubleQuant),
                    quantizer.configType());
        } catch (IllegalArgumentException e) {
            Throwable why = e;
            while (why.getCause() != null) {
                why = why.getCause();
            }
            throw new IllegalArgumentException("--blocksize " + blocksize + ": " + why.getMessage());
        }
    }
}
