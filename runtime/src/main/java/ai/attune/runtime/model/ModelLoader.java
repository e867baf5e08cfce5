package ai.attune.runtime.model;

import ai.attune.api.io.SafetensorsReader;
import ai.attune.api.nn.DropoutSeeds;
import ai.attune.api.spi.Method;
import ai.attune.api.spi.MethodContext;
import ai.attune.api.model.ModelConfig;
import ai.attune.api.model.ModelFamily;
import ai.attune.api.model.ModelJson;
import ai.attune.api.model.ModelLoadException;
import ai.attune.api.model.QuantizedCheckpoint;
import ai.attune.api.spi.Quantizer;
import ai.attune.api.nn.Module;
import ai.attune.api.spi.Kind;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.runtime.host.PluginCatalog;
import ai.attune.runtime.text.Tokenizer;
import com.fasterxml.jackson.databind.JsonNode;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Loads a Hugging Face model directory through the registry: the first {@link ModelFamily} that
 * accepts its {@code config.json} builds it; an optional PEFT LoRA adapter is merged in.
 */
public final class ModelLoader {
    private final PluginCatalog catalog;

    public ModelLoader(PluginCatalog catalog) {
        this.catalog = catalog;
    }

    /** The highest-ranked backend, or the one named; a named backend that cannot run here is refused with its reason. */
    public Backend backend(String name) {
        if (name != null) {
            Backend b = catalog.find(Kind.BACKEND, name, Backend.class).orElseThrow(() -> new IllegalArgumentException(
                    "no backend named '" + name + "'; registered: " + catalog.list(Kind.BACKEND).stream().map(PluginCatalog.Entry::name).toList()));
            if (b.unavailableReason() != null) {
                throw new IllegalStateException("backend " + name + " cannot run here: " + b.unavailableReason());
            }
            return b;
        }
        return catalog.list(Kind.BACKEND).stream().map(PluginCatalog.Entry::reference).sorted(Comparator.reverseOrder())
                .findFirst().map(r -> (Backend) catalog.service(r))
                .orElseThrow(() -> new IllegalStateException("no backend is registered"));
    }

    /**
     * {@code auto}: the fastest backend that can run here, libtorch when its natives load, else the
     * jvm backend, with one line on {@code log} saying why.
     */
    public Backend fastest(PrintWriter log) {
        Optional<Backend> torch = catalog.find(Kind.BACKEND, "torch", Backend.class);
        if (torch.isPresent() && torch.get().unavailableReason() == null) {
            return torch.get();
        }
        log.println("attune: using the jvm backend: " + torch.map(b -> "torch cannot run here: " + b.unavailableReason())
                .orElse("the torch backend is not installed"));
        log.flush();
        return backend("jvm");
    }

    /**
     * The model directory a {@code --model} value names: an existing directory, or the name of a
     * model that ships with the distribution (imported once into the user's cache).
     */
    public static Path resolve(String model) throws IOException {
        Path dir = Path.of(model);
        if (Files.isDirectory(dir)) {
            return dir;
        }
        Optional<PretrainedEncoder> shipped = PretrainedEncoders.find(model);
        if (shipped.isPresent()) {
            return OnnxEncoderImporter.materialize(shipped.get(), cacheDir());
        }
        if (Files.exists(dir)) {
            throw new ModelLoadException(dir, "is not a directory; --model takes a Hugging Face model directory or one of "
                    + PretrainedEncoders.names());
        }
        throw new ModelLoadException(dir.resolve("config.json"), "not found: " + model + " is not a Hugging Face model directory nor a known model name ("
                + PretrainedEncoders.names() + ")");
    }

    /** {@code $XDG_CACHE_HOME/attune/models}, else {@code ~/.cache/attune/models}. */
    static Path cacheDir() {
        String xdg = System.getenv("XDG_CACHE_HOME");
        Path base = xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache");
        return base.resolve("attune").resolve("models");
    }

    public LoadedModel load(String model, Path adapter, Backend backend, DType dtype, Scope scope) throws IOException {
        return load(resolve(model), adapter, backend, dtype, scope);
    }

    public LoadedModel load(Path dir, Path adapter, Backend backend, DType dtype, Scope scope) throws IOException {
        return load(dir, adapter, backend, dtype, scope, null);
    }

    /** Quantizing a dense model's Linear weights as it loads: the quantizer and its bound config. */
    public record Quantization(Quantizer<Object> quantizer, Object config) {}

    /** Loads {@code dir}, its Linear weights quantized as they come off the file when {@code quantization} is not null. */
    public LoadedModel load(Path dir, Path adapter, Backend backend, DType dtype, Scope scope, Quantization quantization) throws IOException {
        return load(dir, adapter, backend, dtype, scope, quantization, null);
    }

    /**
     * A model loaded to be written whole, with its adapter merged in: {@link #load} as for
     * inference, except that Linear weights loaded quantized (a base stored in 4 bits, or one an
     * adapter was trained against in 4 bits) become their dequantized values before the adapter
     * is merged into them, and the quantization is returned alongside (null for a dense base).
     */
    public Merged loadMerged(Path dir, Path adapter, Backend backend, Scope scope) throws IOException {
        Merged[] seen = new Merged[1];
        LoadedModel m = load(dir, adapter, backend, DType.F32, scope, null, module -> seen[0] = densify(module));
        return seen[0] == null ? new Merged(m, null, null) : new Merged(m, seen[0].quantization(), seen[0].block());
    }

    /** A model loaded for a merge, and the quantization its base had with its config.json block (both null: dense). */
    public record Merged(LoadedModel model, Quantization quantization, QuantizationConfig block) {}

    /** Every quantized Linear of {@code module} made dense; the quantization of the first, or null for none. */
    @SuppressWarnings("unchecked")
    private static Merged densify(Module module) {
        Merged q = null;
        for (Module m : module.namedModules().values()) {
            if (m instanceof ai.attune.api.nn.LinearLayer l && l.weightSource() instanceof ai.attune.api.spi.QuantizedWeight w) {
                if (q == null) {
                    Quantizer<Object> quantizer = (Quantizer<Object>) w.quantizer();
                    Object config = quantizer.configOf(w.tensor());
                    boolean doubleQuant = new com.fasterxml.jackson.databind.ObjectMapper().valueToTree(config)
                            .path("bnb_4bit_use_double_quant").asBoolean(false);
                    q = new Merged(null, new Quantization(quantizer, config), new QuantizationConfig(w.tensor().format(), doubleQuant, "float32"));
                }
                l.densifyWeight();
            }
        }
        return q;
    }

    private LoadedModel load(Path dir, Path adapter, Backend backend, DType dtype, Scope scope, Quantization quantization,
                             java.util.function.Consumer<Module> beforeAdapter) throws IOException {
        ModelConfig config = ModelConfig.read(dir);
        ModelFamily family = family(config);
        if (quantization == null && adapter != null && QuantizationConfig.read(config).isEmpty()) {
            quantization = trainedAgainst(adapter);
        }
        Module module;
        try (SafetensorsReader weights = checkpoint(dir, config, quantization)) {
            module = family.load(config, weights, backend, dtype, scope);
        }
        if (beforeAdapter != null) {
            beforeAdapter.accept(module);
        }
        Tokenizer tokenizer = Tokenizer.load(dir);
        try {
            if (adapter != null) {
                Method<?> method = adapterMethod(adapter);
                method.load(module, adapter, new MethodContext(backend, dtype, scope, 0, new DropoutSeeds(0), dir, tokenizer));
            }
            int vocab = config.intOr("vocab_size", tokenizer.vocabSize());
            if (tokenizer.vocabSize() > vocab) {
                throw new ModelLoadException(dir.resolve("tokenizer.json"), "has " + tokenizer.vocabSize()
                        + " tokens but config.json's vocab_size is " + vocab + ": the tokenizer does not belong to this model");
            }
            return new LoadedModel(module, config, tokenizer, backend, eosIds(dir, config, tokenizer, vocab));
        } catch (IOException | RuntimeException e) {
            tokenizer.close();
            throw e;
        }
    }

    /**
     * The installed method that saves adapters like {@code adapter} (from its adapter_config.json):
     * LoRA, prompt or prefix tuning, bottleneck adapters, or a plugin's own.
     */
    public Method<?> adapterMethod(Path adapter) throws IOException {
        Path cfg = adapter.resolve("adapter_config.json");
        com.fasterxml.jackson.databind.JsonNode node;
        try {
            node = new com.fasterxml.jackson.databind.ObjectMapper().readTree(java.nio.file.Files.readString(cfg));
        } catch (java.nio.file.NoSuchFileException e) {
            throw new ModelLoadException(cfg, "not found: " + adapter + " is not an adapter directory");
        } catch (IOException e) {
            throw new ModelLoadException(cfg, "is not valid JSON: " + e.getMessage().lines().findFirst().orElse(""));
        }
        if (node == null || !node.isObject()) {
            throw new ModelLoadException(cfg, "is not a JSON object");
        }
        for (PluginCatalog.Entry e : catalog.list(Kind.METHOD)) {
            Method<?> m = catalog.find(Kind.METHOD, e.name(), Method.class).orElse(null);
            if (m != null && m.recognizes(node)) {
                return m;
            }
        }
        throw new ModelLoadException(cfg, "no installed method saves adapters like this one (peft_type '" + node.path("peft_type").asText("none")
                + "'); installed methods: " + catalog.list(Kind.METHOD).stream().map(PluginCatalog.Entry::name).toList());
    }

    /**
     * The checkpoint of {@code dir}: for a model whose config.json has a {@code quantization_config},
     * one whose quantized Linear weights the named quantizer reads; with {@code quantization}, one
     * that quantizes the dense Linear weights as they load. Every family loads either unchanged.
     */
    public SafetensorsReader checkpoint(Path dir, ModelConfig config, Quantization quantization) throws IOException {
        Optional<QuantizationConfig> q = QuantizationConfig.read(config);
        if (q.isPresent() && quantization != null) {
            throw config.error("key '" + QuantizationConfig.KEY + "': the model is stored quantized already; load it without quantizing it again");
        }
        SafetensorsReader raw = SafetensorsReader.openModelDir(dir);
        if (quantization != null) {
            return QuantizedCheckpoint.quantizing(raw, quantization.quantizer(), quantization.config());
        }
        if (q.isEmpty()) {
            return raw;
        }
        try {
            return QuantizedCheckpoint.stored(raw, quantizer(q.get().quantType(), config.file().getFileName() + "'s "
                    + QuantizationConfig.KEY + ".bnb_4bit_quant_type"));
        } catch (IOException | RuntimeException e) {
            raw.close();
            throw e;
        }
    }

    /** Beside an adapter: the quantization of the base it was trained against (a QLoRA adapter), as a BitsAndBytesConfig block. */
    public static final String ADAPTER_QUANTIZATION = "quantization_config.json";

    /**
     * The quantization {@code adapter} records in {@value #ADAPTER_QUANTIZATION}, so that the base
     * is re-created as it was trained, or null for an adapter trained on a dense base.
     */
    private Quantization trainedAgainst(Path adapter) throws IOException {
        Path file = adapter.resolve(ADAPTER_QUANTIZATION);
        if (!Files.isRegularFile(file)) {
            return null;
        }
        JsonNode block = ModelJson.readObject(file);
        try {
            @SuppressWarnings("unchecked")
            Quantizer<Object> quantizer = (Quantizer<Object>) quantizer(QuantizationConfig.loaderKeys(block, "quantization_config"),
                    file.getFileName() + "'s bnb_4bit_quant_type");
            Object config = new com.fasterxml.jackson.databind.ObjectMapper().convertValue(QuantizationConfig.quantizerKeys(block), quantizer.configType());
            return new Quantization(quantizer, config);
        } catch (IllegalArgumentException e) {
            Throwable why = e;
            while (why.getCause() != null) {
                why = why.getCause();
            }
            if (why instanceof com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException u) {
                throw new ModelLoadException(file, "unknown key '" + u.getPropertyName() + "'; known keys: " + u.getKnownPropertyIds());
            }
            throw new ModelLoadException(file, why instanceof com.fasterxml.jackson.core.JacksonException j ? j.getOriginalMessage() : why.getMessage());
        }
    }

    /** The installed quantizer {@code name}; {@code where} says who asked for it, for the refusal. */
    public Quantizer<?> quantizer(String name, String where) throws ModelLoadException {
        return catalog.find(Kind.QUANTIZER, name, Quantizer.class).orElseThrow(() -> new ModelLoadException(where + " '" + name
                + "' needs a quantizer of that name; installed quantizers: " + catalog.list(Kind.QUANTIZER).stream().map(PluginCatalog.Entry::name).toList()));
    }

    /** A model of the given config with zero weights, e.g. for a throughput benchmark. */
    public Module create(ModelConfig config, Backend backend, DType dtype, Scope scope) throws IOException {
        return family(config).create(config, backend, dtype, scope);
    }

    /** The installed family that builds the model {@code config} describes. */
    public ModelFamily family(ModelConfig config) throws ModelLoadException {
        List<String> names = new ArrayList<>();
        for (PluginCatalog.Entry e : catalog.list(Kind.MODEL)) {
            ModelFamily f = (ModelFamily) catalog.service(e.reference());
            if (f.accepts(config)) {
                return f;
            }
            names.add(e.name());
        }
        throw config.error("model_type '" + config.modelType() + "' (architectures " + config.architectures()
                + ") is not supported by the installed model families " + names);
    }

    /** generation_config.json's eos_token_id, else config.json's, else the tokenizer's EOS token. */
    private static Set<Long> eosIds(Path dir, ModelConfig config, Tokenizer tok, int vocab) throws IOException {
        Set<Long> out = new LinkedHashSet<>();
        Path gen = dir.resolve("generation_config.json");
        if (Files.exists(gen)) {
            addIds(gen, ModelJson.readObject(gen).path("eos_token_id"), vocab, out);
        }
        if (out.isEmpty()) {
            addIds(config.file(), config.node("eos_token_id"), vocab, out);
        }
        if (out.isEmpty()) {
            tok.eosId().ifPresent(out::add);
        }
        return out;
    }

    /** {@code eos_token_id}: absent, null, one id or a list of ids, each a token of the model. */
    private static void addIds(Path file, JsonNode n, int vocab, Set<Long> out) throws ModelLoadException {
        if (n.isMissingNode() || n.isNull()) {
            return;
        }
        for (JsonNode id : n.isArray() ? n : List.of(n)) {
            if (!id.isIntegralNumber() || !id.canConvertToLong() || id.asLong() < 0 || id.asLong() >= vocab) {
                String found = id.toString();
                throw new ModelLoadException(file, "key 'eos_token_id' must be a token id in [0, " + vocab + ") or a list of them, found "
                        + (found.length() > 40 ? found.substring(0, 40) + "..." : found));
            }
            out.add(id.asLong());
        }
    }
}
