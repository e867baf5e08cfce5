package ai.attune.runtime.cli;

import ai.attune.api.io.AtomicDirectory;
import ai.attune.api.model.ModelDirectoryWriter;
import ai.attune.api.model.ModelJson;
import ai.attune.api.nn.Parameter;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.runtime.host.AttuneRuntime;
import ai.attune.runtime.host.RuntimeLayout;
import ai.attune.runtime.model.ModelLoader;
import ai.attune.runtime.model.ModelQuantizer;
import ai.attune.runtime.model.QuantizationConfig;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * {@code attune export}: a PEFT LoRA adapter merged into its base model, written as a full Hugging
 * Face model directory. An adapter trained over a 4-bit base (QLoRA) merges into the base it was
 * trained against, the dequantized weights: {@code deq(W) + scaling · B A} on adapted layers,
 * {@code deq(W)} on the other quantized ones, as PEFT's merge on a 4-bit model computes it before
 * it quantizes again. Adding the update to the original full-precision weights would give a model
 * that was never trained.
 */
@Command(name = "export", description = "Merge a PEFT LoRA adapter into its base model and write a full Hugging Face model directory.")
public final class ExportCommand implements Runnable {
    /** The dtypes a merged model is written in, with transformers' {@code torch_dtype} names. */
    enum Dtype {
        f32(DType.F32, "float32"), bf16(DType.BF16, "bfloat16"), f16(DType.F16, "float16");

        final DType dtype;
        final String torchName;

        Dtype(DType dtype, String torchName) {
            this.dtype = dtype;
            this.torchName = torchName;
        }
    }

    @Spec
    CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "DIR", description = "The base model directory.")
    String model;

    @Option(names = "--adapter", required = true, paramLabel = "DIR", description = "The PEFT LoRA adapter directory.")
    Path adapter;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Where the merged model goes; must not exist yet.")
    Path out;

    @Option(names = "--dtype", defaultValue = "f32", description = "The merged weights' dtype: ${COMPLETION-CANDIDATES} (default ${DEFAULT-VALUE}).")
    Dtype dtype;

    @Option(names = "--requantize", description = "Over a 4-bit base: write the merged model in the base's 4-bit format again "
            + "(adds quantization error to the trained model).")
    boolean requantize;

    @Override
    public void run() {
        // Refused before minutes of loading; the merged model is then written under a temporary name and renamed.
        if (Files.exists(out)) {
            throw new IllegalArgumentException(out + ": already exists; choose a new output directory");
        }
        try (AttuneRuntime rt = AttuneRuntime.boot(RuntimeLayout.fromSystem()); Scope job = Scope.open("export")) {
            ModelLoader loader = new ModelLoader(rt.plugins());
            Path base = ModelLoader.resolve(model);
            var method = loader.adapterMethod(adapter);
            if (!method.mergesIntoWeights()) {
                throw new IllegalArgumentException(adapter.resolve("adapter_config.json") + ": this adapter ("
                        + method.getClass().getSimpleName() + ") adds to the model's forward and cannot be merged into its weights; "
                        + "use it with --adapter instead");
            }
            boolean quantizedBase = QuantizationConfig.read(ai.attune.api.model.ModelConfig.read(base)).isPresent()
                    || Files.isRegularFile(adapter.resolve(ModelLoader.ADAPTER_QUANTIZATION));
            if (requantize && !quantizedBase) {
                throw new IllegalArgumentException("--requantize: the base " + base + " is not quantized and " + adapter
                        + " has no " + ModelLoader.ADAPTER_QUANTIZATION + "; there is no 4-bit format to write again");
            }
            ModelLoader.Merged merged = loader.loadMerged(base, adapter, loader.backend(null), job);
            merged.model().tokenizer().close();
            Map<String, Parameter> params = inDtype(merged.model().module().namedParameters());
            if (requantize) {
                requantized(loader, merged, base, params);
            } else {
                AtomicDirectory.create(out, tmp -> write(params, base, tmp));
            }
            spec.commandLine().getOut().println(out);
        } catch (IOException e) {
            throw new UncheckedIOException(e.getMessage(), e);
        }
    }

    /** The merged weights, then quantized as the base was, in one more pass; the full-precision copy is removed. */
    private void requantized(ModelLoader loader, ModelLoader.Merged merged, Path base, Map<String, Parameter> params) throws IOException {
        spec.commandLine().getErr().println("attune: warning: --requantize rounds the merged weights to " + merged.block().quantType()
                + " again, which adds quantization error to the trained model; without it, the model the adapter was trained against is written");
        spec.commandLine().getErr().flush();
        Path staged = out.resolveSibling("." + out.getFileName() + ".merged");
        AtomicDirectory.deleteTree(staged);
        try {
            AtomicDirectory.create(staged, tmp -> write(params, base, tmp));
            new ModelQuantizer(loader).write(staged, merged.quantization().quantizer(), merged.quantization().config(), merged.block(),
                    loader.backend(null), out);
        } finally {
            AtomicDirectory.deleteTree(staged);
        }
    }

    /** The parameters converted to {@code --dtype} (a copy only where the dtype differs). */
    private Map<String, Parameter> inDtype(Map<String, Parameter> params) {
        Map<String, Parameter> out = new LinkedHashMap<>();
        params.forEach((name, p) -> {
            Tensor v = p.value();
            if (v.dtype() == dtype.dtype || !v.dtype().isFloatingPoint()) {
                out.put(name, p);
                return;
            }
            Tensor cast = v.backend().empty(dtype.dtype, v.shape(), Scope.current());
            v.backend().copy(v, cast); // rounds to nearest even, as torch's .to(dtype)
            out.put(name, new Parameter(name, cast, false));
        });
        return out;
    }

    /** The weights and the base's companion files, config.json saying the dtype written and no quantization. */
    private void write(Map<String, Parameter> params, Path base, Path dir) throws IOException {
        ModelDirectoryWriter.writeInto(params, base, dir);
        ObjectNode config = (ObjectNode) ModelJson.readObject(base.resolve("config.json"));
        config.remove(QuantizationConfig.KEY);
        config.put("torch_dtype", dtype.torchName);
        Files.delete(dir.resolve("config.json")); // the copy keeps the source's mode, which may be read-only
        Files.writeString(dir.resolve("config.json"), new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(config));
    }
}
