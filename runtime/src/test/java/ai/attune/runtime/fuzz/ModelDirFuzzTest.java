package ai.attune.runtime.fuzz;

import ai.attune.api.autograd.GradMode;
import ai.attune.api.data.DataException;
import ai.attune.api.io.SafetensorsException;
import ai.attune.api.model.CausalLM;
import ai.attune.api.model.ModelConfig;
import ai.attune.api.model.ModelDirectoryWriter;
import ai.attune.api.model.ModelLoadException;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;
import ai.attune.kernels.jvm.JvmBackend;
import ai.attune.runtime.data.DataSpec;
import ai.attune.runtime.data.ShippedFormats;
import ai.attune.runtime.data.TrainingData;
import ai.attune.runtime.host.PluginCatalog;
import ai.attune.runtime.model.LoadedModel;
import ai.attune.runtime.model.ModelLoader;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The JSON files of a Hugging Face model directory as {@code attune generate/train --model}
 * loads them, through ModelLoader with the real model families: config.json (llama, gpt2, bert),
 * tokenizer.json, tokenizer_config.json, generation_config.json and a LoRA adapter's
 * adapter_config.json. A loaded causal LM must then encode a prompt and run a forward pass. Tensor
 * allocation is budgeted: a size in a config must be checked against the checkpoint before it
 * allocates anything.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ModelDirFuzzTest {
    static final Path STORIES = Path.of("../../shared/models/stories260K");
    /** Far above any model here (stories260K is 1 MB); far below what a hostile size field would ask for. */
    static final long ALLOCATION_BUDGET = 64L << 20;
    static final String GPT2 = """
            {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "n_embd": 16, "n_layer": 2, "n_head": 4, "n_positions": 32,
             "vocab_size": 512, "activation_function": "gelu_new", "layer_norm_epsilon": 1e-5, "tie_word_embeddings": true,
             "bos_token_id": 1, "eos_token_id": 2}""";
    static final String BERT = """
            {"model_type": "bert", "architectures": ["BertModel"], "hidden_size": 12, "num_hidden_layers": 2, "num_attention_heads": 3,
             "intermediate_size": 20, "vocab_size": 512, "max_position_embeddings": 64, "type_vocab_size": 2, "layer_norm_eps": 1e-12,
             "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "position_embedding_type": "absolute"}""";
    static final String ADAPTER_CONFIG = """
            {"peft_type": "LORA", "r": 2, "lora_alpha": 4, "lora_dropout": 0.0, "target_modules": ["q_proj"], "fan_in_fan_out": false,
             "use_rslora": false, "alpha_pattern": {"q_proj": 8}, "bias": "none", "base_model_name_or_path": "stories260K"}""";
    static final String CHAT_ROW = "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}, {\"role\": \"assistant\", \"content\": \"Once upon a time\"}]}\n";
    static final String CHAT_TEMPLATE = "{% for m in messages %}{{ bos_token + m['role'] + ': ' + m['content'] + eos_token }}{% endfor %}";

    @TempDir
    static Path dir;

    private final ObjectMapper json = new ObjectMapper();
    private final PluginCatalog catalog = FuzzPlugins.catalog();
    private Path llama;
    private Path gpt2;
    private Path bert;
    private Path adapter;

    @BeforeAll
    void writeModels() throws Exception {
        Path models = Files.createDirectories(dir.resolve("models"));
        llama = Files.createDirectories(models.resolve("llama"));
        for (String f : List.of("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json", "model.safetensors")) {
            Files.copy(STORIES.resolve(f), llama.resolve(f));
        }
        ObjectNode tokConfig = (ObjectNode) json.readTree(llama.resolve("tokenizer_config.json").toFile());
        json.writeValue(llama.resolve("tokenizer_config.json").toFile(), tokConfig.put("chat_template", CHAT_TEMPLATE));
        gpt2 = tiny(models.resolve("gpt2"), GPT2);
        bert = tiny(models.resolve("bert"), BERT);
        adapter = Files.createDirectories(models.resolve("adapter"));
        Files.writeString(adapter.resolve("adapter_config.json"), ADAPTER_CONFIG);
        try (Scope s = Scope.open("adapter")) {
            JvmBackend be = new JvmBackend();
            String p = "base_model.model.model.layers.0.self_attn.q_proj.";
            ModelDirectoryWriter.writeInto(java.util.Map.of(
                    p + "lora_A.weight", new ai.attune.api.nn.Parameter("a", be.zeros(DType.F32, new int[] {2, 64}, s), true),
                    p + "lora_B.weight", new ai.attune.api.nn.Parameter("b", be.zeros(DType.F32, new int[] {64, 2}, s), true)), adapter, adapter);
            Files.move(adapter.resolve("model.safetensors"), adapter.resolve("adapter_model.safetensors"));
        }
    }

    @Test
    void llamaConfig() throws Exception {
        run("config-llama", 41, llama, "config.json", null);
    }

    @Test
    void gpt2Config() throws Exception {
        run("config-gpt2", 42, gpt2, "config.json", null);
    }

    @Test
    void bertConfig() throws Exception {
        run("config-bert", 43, bert, "config.json", null);
    }

    @Test
    void tokenizerJson() throws Exception {
        run("tokenizer-json", 44, llama, "tokenizer.json", null);
    }

    @Test
    void tokenizerConfig() throws Exception {
        run("tokenizer-config", 45, llama, "tokenizer_config.json", null);
    }

    @Test
    void generationConfig() throws Exception {
        run("generation-config", 46, llama, "generation_config.json", null);
    }

    @Test
    void adapterConfig() throws Exception {
        run("adapter-config", 47, llama, "adapter_config.json", adapter);
    }

    /** Inputs the fuzzer found (or that aborted the JVM, allocated gigabytes or leaked a raw exception before the fix). */
    @Test
    void keptCasesAreRefusedNamingTheFileAndKey() throws Exception {
        try (FuzzCampaign c = new FuzzCampaign("model-kept", 0, dir.resolve("kept"), ModelLoadException.class, SafetensorsException.class,
                DataException.class)) {
            String tokenizer = Files.readString(llama.resolve("tokenizer.json"));
            String config = Files.readString(llama.resolve("config.json"));
            // Each of these made the tokenizers library panic, which aborts the JVM.
            assertRefused("tokenizer.json: key 'decoder.x' holds Infinity", c, llama, "tokenizer.json",
                    tokenizer.replaceFirst("\"decoder\": *\\{", "\"decoder\": {\"x\": 1e400, "));
            assertRefused("tokenizer.json: key 'decoder.y' holds a string with half a UTF-16 surrogate pair", c, llama, "tokenizer.json",
                    tokenizer.replaceFirst("\"decoder\": *\\{", "\"decoder\": {\"y\": \"\\\\ud800\", "));
            assertRefused("nests deeper than 64 levels", c, llama, "tokenizer.json",
                    tokenizer.replaceFirst("\"decoder\": *\\{", "\"decoder\": {\"x\": " + "[".repeat(100) + "]".repeat(100) + ", "));
            assertRefused("does not continue with continuing_subword_prefix", c, llama, "tokenizer.json",
                    tokenizer.replaceFirst("\"continuing_subword_prefix\": *null", "\"continuing_subword_prefix\": \"abcdefgh\""));
            // Jackson's exceptions used to escape as they were.
            assertRefused("tokenizer.json: is not valid JSON: line 7, column 12: Unexpected end-of-input", c, llama, "tokenizer.json", tokenizer.substring(0, 100));
            assertRefused("tokenizer_config.json: is not valid JSON: line ", c, llama, "tokenizer_config.json", "{\"add_bos_token\": tru}");
            assertRefused("generation_config.json: is not valid JSON: line ", c, llama, "generation_config.json", "{\"eos_token_id\": 007}");
            assertRefused("generation_config.json: key 'eos_token_id' must be a token id in [0, 512)", c, llama, "generation_config.json",
                    "{\"eos_token_id\": [2, -1]}");
            assertRefused("tokenizer.json: line 1: not UTF-8 text", c, llama, "tokenizer.json", "{\"x\": \"\u00ff\"}".getBytes(StandardCharsets.ISO_8859_1));
            // A size that does not describe the checkpoint used to be allocated first (8 GiB here).
            assertRefused("model.safetensors: weight 'model.embed_tokens.weight' has shape [512, 64], expected [2147483647, 64] (from config.json's vocab_size",
                    c, llama, "config.json", config.replace("\"vocab_size\": 512", "\"vocab_size\": 2147483647"));
            assertRefused("model.safetensors: missing weight 'model.layers.5.self_attn.q_proj.weight'", c, llama, "config.json",
                    config.replace("\"num_hidden_layers\": 5", "\"num_hidden_layers\": 100000"));
            assertRefused("config.json: head_dim -2147483648 must be positive and even", c, llama, "config.json",
                    config.replace("\"head_dim\": 8", "\"head_dim\": -2147483648"));
            assertRefused("config.json: key 'max_position_embeddings' must be a positive integer, found -512", c, llama, "config.json",
                    config.replace("\"max_position_embeddings\": 512", "\"max_position_embeddings\": -512"));
            assertRefused("model.safetensors: missing weight 'transformer.h.2.attn.c_attn.weight'", c, gpt2, "config.json",
                    GPT2.replace("\"n_layer\": 2", "\"n_layer\": 50000000"));
            assertRefused("config.json: key 'hidden_dropout_prob' must be a probability in [0, 1]", c, bert, "config.json",
                    BERT.replace("\"hidden_dropout_prob\": 0.1", "\"hidden_dropout_prob\": 9.223372036854776E18"));
            assertRefused("model.safetensors: weight 'encoder.layer.0.intermediate.dense.weight' has shape [20, 12], expected [2147483647, 12]",
                    c, bert, "config.json", BERT.replace("\"intermediate_size\": 20", "\"intermediate_size\": 2147483647"));
            // A regular-expression key used to throw PatternSyntaxException while merging.
            Path adapterCopy = link(adapter, Files.createDirectories(dir.resolve("kept-adapter")));
            Files.delete(adapterCopy.resolve("adapter_config.json"));
            Files.writeString(adapterCopy.resolve("adapter_config.json"), ADAPTER_CONFIG.replace("\"q_proj\": 8", "\"(q_proj\": 8"));
            assertTrue(check(c, llama, adapterCopy, "adapter_config.json", null).startsWith(
                    "adapter_config.json: alpha_pattern key '(q_proj' is not a regular expression"));
        }
    }

    private void assertRefused(String expected, FuzzCampaign c, Path model, String target, String content) throws Exception {
        assertRefused(expected, c, model, target, content.getBytes(StandardCharsets.UTF_8));
    }

    private void assertRefused(String expected, FuzzCampaign c, Path model, String target, byte[] content) throws Exception {
        String message = check(c, model, null, target, content);
        assertTrue(message.startsWith(expected) || message.contains(expected), "expected '" + expected + "': " + message);
    }

    /** Loads {@code model} with {@code target} replaced by {@code content} (when given); returns the refusal. */
    private String check(FuzzCampaign c, Path model, Path adapterDir, String target, byte[] content) throws Exception {
        Path round = Files.createTempDirectory(dir, "kept");
        Path modelDir = link(model, Files.createDirectories(round.resolve("model")));
        if (content != null) {
            Files.delete(modelDir.resolve(target));
            Files.write(modelDir.resolve(target), content);
        }
        Path chat = Files.writeString(round.resolve("chat.jsonl"), CHAT_ROW);
        List<String> names = List.of(target, "model.safetensors", "tokenizer.json", "chat.jsonl");
        String message = c.check(new FuzzCampaign.Case(List.of(modelDir.resolve(target)), names, () -> loadAndUse(modelDir, adapterDir, chat)));
        assertNotNull(message, target + " was accepted");
        return message;
    }

    /** Mutates {@code target} (in the adapter directory when there is one, else in the model's); links every other file. */
    private void run(String parser, long seed, Path model, String target, Path adapterDir) throws Exception {
        Path source = (adapterDir != null ? adapterDir : model).resolve(target);
        JsonNode valid = json.readTree(source.toFile());
        // A loaded model tokenizes a chat rendered by tokenizer_config.json's template: strings stay below 100,000 characters.
        try (FuzzCampaign campaign = new FuzzCampaign(parser, seed, dir.resolve(parser), ModelLoadException.class, SafetensorsException.class,
                DataException.class).maxString(100_000)) {
            FuzzCampaign.Totals t = campaign.run(FuzzCampaign.rounds(100), (m, round) -> {
                Path modelDir = link(model, Files.createDirectories(round.resolve("model")));
                Path adapterCopy = adapterDir == null ? null : link(adapterDir, Files.createDirectories(round.resolve("adapter")));
                Path file = (adapterCopy != null ? adapterCopy : modelDir).resolve(target);
                Files.deleteIfExists(file);
                Files.write(file, m.document(valid, Mutator.Syntax.JSON));
                Path chat = Files.writeString(round.resolve("chat.jsonl"), CHAT_ROW);
                List<String> names = new ArrayList<>(List.of("chat.jsonl"));
                for (Path d : adapterCopy == null ? List.of(modelDir) : List.of(modelDir, adapterCopy)) {
                    try (Stream<Path> s = Files.list(d)) {
                        s.forEach(p -> names.add(p.getFileName().toString()));
                    }
                }
                return new FuzzCampaign.Case(List.of(file), names, () -> loadAndUse(modelDir, adapterCopy, chat));
            });
            FuzzCampaign.assertBothOutcomes(t, 0.05, 0.2);
        }
    }

    /** What {@code attune generate} does before sampling: load, encode, render a chat, one forward pass. */
    private void loadAndUse(Path modelDir, Path adapterDir, Path chat) throws IOException {
        AtomicLong allocated = new AtomicLong();
        Backend budgeted = budgeted(new JvmBackend(), allocated);
        try (Scope scope = Scope.open("fuzz"); LoadedModel m = new ModelLoader(catalog).load(modelDir, adapterDir, budgeted, DType.F32, scope)) {
            long[] ids = m.tokenizer().encode("Once upon a time, there was a little girl.");
            m.tokenizer().decode(ids);
            m.maxSeqLength();
            if (m.module() instanceof CausalLM lm && m.tokenizer().chatTemplate().isPresent()) {
                // The chat template runs only on chat data: a broken one fails the rows it renders.
                TrainingData.load(chat, new DataSpec("chat", 0, true, false, null), ShippedFormats.get("chat"), m.tokenizer(), lm.vocabSize(), lm.maxPositions());
            }
            if (m.module() instanceof CausalLM lm && ids.length > 0) {
                int n = Math.min(ids.length, Math.min(4, lm.maxPositions()));
                try (Scope step = Scope.open("forward"); GradMode.Region ng = GradMode.noGrad()) {
                    Tensor logits = lm.forward(Tensors.ofLongs(m.backend(), Arrays.copyOf(ids, n), 1, n), null, null);
                    assertArrayEquals(new int[] {1, n, lm.vocabSize()}, logits.shape());
                }
            }
            ModelConfig.read(modelDir); // as `attune data inspect --model` reads it
        }
    }

    /** The backend with every zeros() counted; past the budget it fails the case instead of allocating. */
    private static Backend budgeted(Backend real, AtomicLong allocated) {
        return (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[] {Backend.class}, (proxy, method, args) -> {
            if (method.getName().equals("zeros") && args != null && args.length == 3 && args[1] instanceof int[] shape) {
                long bytes = ((DType) args[0]).byteSize();
                for (int d : shape) {
                    bytes *= Math.max(d, 0);
                    if (bytes > ALLOCATION_BUDGET) {
                        break;
                    }
                }
                if (allocated.addAndGet(Math.min(bytes, ALLOCATION_BUDGET + 1)) > ALLOCATION_BUDGET) {
                    throw new AssertionError("a tensor of shape " + Arrays.toString(shape) + " takes the allocations past "
                            + (ALLOCATION_BUDGET >> 20) + " MiB: a size was not checked against the checkpoint before allocating");
                }
            }
            try {
                return method.invoke(real, args);
            } catch (InvocationTargetException e) {
                throw e.getCause();
            }
        });
    }

    /** Symbolic links to every file of {@code from} in {@code to}, so a round copies nothing but its mutated file. */
    private static Path link(Path from, Path to) throws IOException {
        try (Stream<Path> s = Files.list(from)) {
            for (Path p : s.toList()) {
                Files.createSymbolicLink(to.resolve(p.getFileName()), p.toAbsolutePath());
            }
        }
        return to;
    }

    /** A zero-weight checkpoint of the family the config names, with stories260K's tokenizer (512 ids). */
    private Path tiny(Path out, String config) throws Exception {
        Files.createDirectories(out);
        Files.writeString(out.resolve("config.json"), config);
        for (String f : List.of("tokenizer.json", "tokenizer_config.json")) {
            Files.copy(STORIES.resolve(f), out.resolve(f));
        }
        try (Scope s = Scope.open("tiny")) {
            var module = new ModelLoader(catalog).create(ModelConfig.read(out), new JvmBackend(), DType.F32, s);
            ModelDirectoryWriter.writeInto(module.namedParameters(), out, out);
        }
        return out;
    }
}
