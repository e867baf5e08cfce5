package ai.attune.runtime.model;

import ai.attune.api.autograd.GradMode;
import ai.attune.api.io.SafetensorsFile;
import ai.attune.api.io.SafetensorsReader;
import ai.attune.api.io.SafetensorsWriter;
import ai.attune.api.io.TensorInfo;
import ai.attune.api.model.CausalLM;
import ai.attune.api.model.ModelDirectoryWriter;
import ai.attune.api.model.ModelLoadException;
import ai.attune.api.nn.LinearLayer;
import ai.attune.api.spi.Kind;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;
import ai.attune.kernels.jvm.JvmBackend;
import ai.attune.plugins.lora.LoraMethod;
import ai.attune.plugins.model.llama.LlamaFamily;
import ai.attune.plugins.quant.bnb4.Bnb4Config;
import ai.attune.plugins.quant.bnb4.Fp4Quantizer;
import ai.attune.plugins.quant.bnb4.Nf4Quantizer;
import ai.attune.runtime.host.PluginCatalog;
import ai.attune.runtime.host.StaticCatalog;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code attune quantize} on the real stories260K, and the quantized directory as a model input. */
class QuantizedModelTest {
    static final Path STORIES = Path.of("../../shared/models/stories260K");
    private static final long[] IDS = {1, 403, 407, 261, 378, 432, 383};
    private static final List<String> LINEARS = List.of("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
            "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj");

    private final JvmBackend be = new JvmBackend();
    private final PluginCatalog catalog = StaticCatalog.of(Map.of(
            Kind.MODEL, Map.of("llama", new LlamaFamily()),
            Kind.METHOD, Map.of("lora", new LoraMethod()),
            Kind.QUANTIZER, Map.of("nf4", new Nf4Quantizer(), "fp4", new Fp4Quantizer()),
            Kind.BACKEND, Map.of("jvm", be)));
    private final ModelLoader loader = new ModelLoader(catalog);

    private ModelQuantizer.Summary quantize(Path out, boolean doubleQuant) throws Exception {
        return new ModelQuantizer(loader).write(STORIES, new Nf4Quantizer(), new Bnb4Config(64, doubleQuant),
                new QuantizationConfig("nf4", doubleQuant, "float32"), be, out);
    }

    private static Set<String> decoderLinears() {
        Set<String> names = new TreeSet<>();
        for (int layer = 0; layer < 5; layer++) {
            for (String l : LINEARS) {
                names.add("model.layers." + layer + "." + l + ".weight");
            }
        }
        return names;
    }

    /** Every decoder Linear: packed codes and absmax bit-identical to the reference; every other tensor byte-identical to the source. */
    @Test
    void writesTheBitsandbytesLayout(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("nf4");
        ModelQuantizer.Summary summary = quantize(out, false);
        assertEquals(35, summary.weights());
        try (SafetensorsFile src = SafetensorsFile.open(STORIES.resolve("model.safetensors"));
             SafetensorsFile q = SafetensorsFile.open(out.resolve("model.safetensors"))) {
            Set<String> expectedNames = new TreeSet<>();
            for (String name : src.names()) {
                if (!decoderLinears().contains(name)) {
                    expectedNames.add(name);
                    assertEquals(src.info(name).dtype(), q.info(name).dtype());
                    assertArrayEquals(src.info(name).shape(), q.info(name).shape());
                    assertEquals(-1, src.data(name).mismatch(q.data(name)), name + " is copied unchanged");
                    continue;
                }
                for (String suffix : List.of("", ".absmax", ".quant_map", ".quant_state.bitsandbytes__nf4")) {
                    expectedNames.add(name + suffix);
                }
                float[] w = src.data(name).toArray(ValueLayout.JAVA_FLOAT);
                Bnb4Reference.Quantized ref = Bnb4Reference.nf4(w, 64);
                TensorInfo packed = q.info(name);
                assertEquals(DType.U8, packed.dtype());
                assertArrayEquals(new long[] {w.length / 2, 1}, packed.shape());
                assertArrayEquals(ref.packed(), q.data(name).toArray(ValueLayout.JAVA_BYTE), name);
                assertArrayEquals(ref.absmax(), q.data(name + ".absmax").toArray(ValueLayout.JAVA_FLOAT), name + ".absmax");
                assertArrayEquals(Bnb4Reference.NF4, q.data(name + ".quant_map").toArray(ValueLayout.JAVA_FLOAT));
                long[] shape = src.info(name).shape();
                assertEquals("{\"quant_type\": \"nf4\", \"blocksize\": 64, \"dtype\": \"float32\", \"shape\": [" + shape[0] + ", " + shape[1] + "]}",
                        new String(q.data(name + ".quant_state.bitsandbytes__nf4").toArray(ValueLayout.JAVA_BYTE)));
            }
            assertEquals(expectedNames, new TreeSet<>(q.names()));
        }
        JsonNode config = new ObjectMapper().readTree(out.resolve("config.json").toFile());
        assertEquals("{\"quant_method\":\"bitsandbytes\",\"load_in_4bit\":true,\"load_in_8bit\":false,\"bnb_4bit_quant_type\":\"nf4\","
                + "\"bnb_4bit_use_double_quant\":false,\"bnb_4bit_compute_dtype\":\"float32\",\"bnb_4bit_quant_storage\":\"uint8\"}",
                config.get("quantization_config").toString());
        assertEquals("llama", config.get("model_type").asText());
        for (String f : List.of("tokenizer.json", "tokenizer_config.json", "generation_config.json", "special_tokens_map.json")) {
            assertEquals(-1, Files.mismatch(STORIES.resolve(f), out.resolve(f)), f);
        }
    }

    /**
     * Scoring the quantized directory gives the logits of the model whose decoder Linear weights are
     * replaced by their dequantization (the reference's code value × absmax, written as a dense
     * directory and loaded the ordinary way).
     */
    @Test
    void scoresAsTheDequantizedModel(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("nf4");
        quantize(out, false);
        Path dense = dequantizedDirectory(out, tmp.resolve("dequantized"));

        float[] quantized = logits(out);
        float[] reference = logits(dense);
        float[] original = logits(STORIES);
        float maxDiff = 0;
        float quantizationEffect = 0;
        for (int i = 0; i < reference.length; i++) {
            maxDiff = Math.max(maxDiff, Math.abs(quantized[i] - reference[i]));
            quantizationEffect = Math.max(quantizationEffect, Math.abs(original[i] - reference[i]));
        }
        assertTrue(maxDiff <= 1e-5, "quantized vs dequantized reference: " + maxDiff);
        assertTrue(quantizationEffect > 1e-3, "the comparison can tell 4-bit from full precision: " + quantizationEffect);
    }

    /** Every decoder Linear loads as a 4-bit source, and nothing dense stands in for it. */
    @Test
    void linearsLoadQuantized(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("nf4");
        quantize(out, true);
        try (Scope s = Scope.open("test"); LoadedModel m = loader.load(out, null, be, DType.F32, s)) {
            Map<String, ai.attune.api.nn.Module> modules = m.module().namedModules();
            for (String name : decoderLinears()) {
                LinearLayer l = (LinearLayer) modules.get(name.substring(0, name.length() - ".weight".length()));
                assertNotNull(l.weightSource(), name);
                assertFalse(m.module().namedParameters().containsKey(name), name + " is not a dense parameter");
                assertTrue(Float.isNaN(Tensors.toFloats(l.weight().value())[0]), "the placeholder is NaN");
            }
            assertTrue(m.module().namedParameters().containsKey("model.embed_tokens.weight"));
        }
    }

    /** Double quantization moves no dequantized weight by more than 1% of its tensor's max, against plain NF4. */
    @Test
    void doubleQuantWithinOnePercentOfPlain(@TempDir Path tmp) throws Exception {
        quantize(tmp.resolve("plain"), false);
        ModelQuantizer.Summary nested = quantize(tmp.resolve("nested"), true);
        try (Scope s = Scope.open("test"); LoadedModel plain = loader.load(tmp.resolve("plain"), null, be, DType.F32, s);
             LoadedModel dq = loader.load(tmp.resolve("nested"), null, be, DType.F32, s)) {
            for (String name : decoderLinears()) {
                String module = name.substring(0, name.length() - ".weight".length());
                float[] a = Tensors.toFloats(((LinearLayer) plain.module().namedModules().get(module)).weightSource().materialize(DType.F32));
                float[] b = Tensors.toFloats(((LinearLayer) dq.module().namedModules().get(module)).weightSource().materialize(DType.F32));
                float max = 0;
                float diff = 0;
                for (int i = 0; i < a.length; i++) {
                    max = Math.max(max, Math.abs(a[i]));
                    diff = Math.max(diff, Math.abs(a[i] - b[i]));
                }
                assertTrue(diff <= 1e-2 * max, name + ": " + diff + " of " + max);
            }
        }
        try (SafetensorsFile q = SafetensorsFile.open(tmp.resolve("nested").resolve("model.safetensors"))) {
            String w = "model.layers.0.mlp.down_proj.weight";
            assertEquals(DType.U8, q.info(w + ".absmax").dtype());
            assertArrayEquals(new long[] {1}, q.info(w + ".nested_absmax").shape()); // 172 absmax values: one nested block
            assertArrayEquals(new long[] {256}, q.info(w + ".nested_quant_map").shape());
        }
        assertTrue(nested.bitsPerParameter() > 4, "" + nested.bitsPerParameter());
    }

    @Test
    void refusesToQuantizeAQuantizedModel(@TempDir Path tmp) throws Exception {
        quantize(tmp.resolve("nf4"), false);
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> new ModelQuantizer(loader).write(tmp.resolve("nf4"),
                new Nf4Quantizer(), Bnb4Config.DEFAULTS, new QuantizationConfig("nf4", false, "float32"), be, tmp.resolve("again")));
        assertEquals("config.json: key 'quantization_config': this model is quantized already; quantize the original one", e.getMessage());
        assertFalse(Files.exists(tmp.resolve("again")));
    }

    @Test
    void refusesAQuantTypeNoQuantizerReads(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("nf4");
        quantize(out, false);
        PluginCatalog noQuantizers = StaticCatalog.of(Map.of(Kind.MODEL, Map.of("llama", new LlamaFamily()), Kind.BACKEND, Map.of("jvm", be)));
        try (Scope s = Scope.open("test")) {
            ModelLoadException e = assertThrows(ModelLoadException.class, () -> new ModelLoader(noQuantizers).load(out, null, be, DType.F32, s));
            assertEquals("config.json's quantization_config.bnb_4bit_quant_type 'nf4' needs a quantizer of that name; installed quantizers: []",
                    e.getMessage());
        }
    }

    /** stories260K with its decoder Linear weights replaced by the reference dequantization of {@code quantized}'s, as a dense directory. */
    private static Path dequantizedDirectory(Path quantized, Path dense) throws Exception {
        Files.createDirectories(dense);
        try (SafetensorsFile q = SafetensorsFile.open(quantized.resolve("model.safetensors")); SafetensorsFile src = SafetensorsFile.open(
                STORIES.resolve("model.safetensors")); Arena arena = Arena.ofConfined()) {
            SafetensorsWriter w = new SafetensorsWriter();
            for (String name : src.names()) {
                TensorInfo info = src.info(name);
                MemorySegment bytes = src.data(name);
                if (decoderLinears().contains(name)) {
                    float[] dq = Bnb4Reference.dequantize(q.data(name).toArray(ValueLayout.JAVA_BYTE),
                            q.data(name + ".absmax").toArray(ValueLayout.JAVA_FLOAT), 64);
                    bytes = arena.allocateFrom(ValueLayout.JAVA_FLOAT, dq);
                }
                w.add(name, info.dtype(), info.shape(), bytes);
            }
            w.write(dense.resolve("model.safetensors"));
        }
        ModelDirectoryWriter.copyCompanions(STORIES, dense);
        return dense;
    }

    /**
     * A LoRA adapter on a quantized base runs beside each 4-bit Linear, unmerged (the weight cannot
     * take the update): the logits are those of the same adapter merged into the dequantized dense model.
     */
    @Test
    void aLoraAdapterOnAQuantizedBase(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("nf4");
        quantize(out, false);
        Path dense = dequantizedDirectory(out, tmp.resolve("dequantized"));
        Path adapter = randomAdapter(tmp.resolve("adapter"));
        float[] unmerged = logits(out, adapter);
        float[] merged = logits(dense, adapter);
        float[] without = logits(out, null);
        float diff = 0;
        float effect = 0;
        float largest = 0;
        for (int i = 0; i < merged.length; i++) {
            diff = Math.max(diff, Math.abs(unmerged[i] - merged[i]));
            effect = Math.max(effect, Math.abs(without[i] - merged[i]));
            largest = Math.max(largest, Math.abs(merged[i]));
        }
        // Merging rounds W + s·BA once per weight; unmerged rounds the two products apart: float32 rounding apart, no more.
        assertTrue(diff <= 1e-5 * largest, "unmerged on 4-bit vs merged into the dequantized weights: " + diff + " of " + largest);
        assertTrue(effect > 1e-2, "the adapter changes the logits: " + effect);
    }

    /** An adapter with quantization_config.json beside it re-creates the 4-bit base it was trained against from the original model. */
    @Test
    void aQloraAdapterRecreatesItsBase(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("nf4");
        quantize(out, true);
        Path qlora = qloraAdapter(tmp);
        Path adapter = tmp.resolve("adapter");
        float[] dense = logits(STORIES, adapter);
        assertArrayEquals(logits(out, adapter), logits(STORIES, qlora), 0f, "the same codes as the quantized directory's");
        float[] recreated = logits(STORIES, qlora);
        boolean differs = false;
        for (int i = 0; i < dense.length; i++) {
            differs |= Math.abs(dense[i] - recreated[i]) > 1e-4;
        }
        assertTrue(differs, "not the dense base");

        Files.writeString(qlora.resolve(ModelLoader.ADAPTER_QUANTIZATION), "{\"load_in_4bit\": true, \"bnb_4bit_quant_type\": \"nf4\", "
                + "\"bnb_4bit_blocksize\": 63}");
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> logits(STORIES, qlora));
        assertEquals("quantization_config.json: bnb_4bit_blocksize must be one of [32, 64, 128, 256, 512, 1024, 2048, 4096], as bitsandbytes "
                + "accepts, not 63", e.getMessage());
        Files.writeString(qlora.resolve(ModelLoader.ADAPTER_QUANTIZATION), "{\"load_in_4bit\": true, \"bnb_4bit_quant_type\": \"nf4\", "
                + "\"bnb_4bit_blocksise\": 64}");
        e = assertThrows(ModelLoadException.class, () -> logits(STORIES, qlora));
        assertEquals("quantization_config.json: unknown key 'bnb_4bit_blocksise'; known keys: [bnb_4bit_blocksize, bnb_4bit_use_double_quant]",
                e.getMessage());
    }

    /**
     * A QLoRA adapter merges into the base it was trained against: every decoder Linear becomes
     * deq(W) + (alpha/r)·B·A (computed here in double from the adapter's tensors and the 4-bit
     * directory's dequantization), every other tensor stays the original's.
     */
    @Test
    void aQloraAdapterMergesIntoTheDequantizedBase(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("nf4");
        quantize(out, true);
        Path qlora = qloraAdapter(tmp);
        Map<String, float[]> deq = new java.util.HashMap<>();
        try (Scope s = Scope.open("deq"); LoadedModel q = loader.load(out, null, be, DType.F32, s)) {
            q.module().namedModules().forEach((path, m) -> {
                if (m instanceof LinearLayer l && l.weightSource() != null) {
                    deq.put(path + ".weight", Tensors.toFloats(l.weightSource().materialize(DType.F32)));
                }
            });
        }
        assertEquals(35, deq.size());
        Map<String, float[]> a = new java.util.HashMap<>();
        Map<String, float[]> b = new java.util.HashMap<>();
        try (SafetensorsFile f = SafetensorsFile.open(qlora.resolve("adapter_model.safetensors"))) {
            for (String n : f.names()) {
                String w = n.substring("base_model.model.".length()).replaceAll("\\.lora_[AB]\\.weight$", ".weight");
                (n.contains("lora_A") ? a : b).put(w, f.data(n).toArray(ValueLayout.JAVA_FLOAT));
            }
        }
        try (Scope s = Scope.open("merged"); SafetensorsReader original = SafetensorsReader.openModelDir(STORIES)) {
            ModelLoader.Merged merged = loader.loadMerged(STORIES, qlora, be, s);
            merged.model().tokenizer().close();
            assertEquals(new QuantizationConfig("nf4", true, "float32"), merged.block());
            Map<String, ai.attune.api.nn.Parameter> params = merged.model().module().namedParameters();
            assertEquals(original.names().size(), params.size(), "every tensor of the base, under its name");
            float worst = 0;
            for (Map.Entry<String, ai.attune.api.nn.Parameter> e : params.entrySet()) {
                float[] got = Tensors.toFloats(e.getValue().value());
                if (!deq.containsKey(e.getKey())) {
                    assertArrayEquals(original.data(e.getKey()).toArray(ValueLayout.JAVA_FLOAT), got, 0f, e.getKey());
                    continue;
                }
                float[] w = deq.get(e.getKey());
                float[] la = a.get(e.getKey()); // [4, in]
                float[] lb = b.get(e.getKey()); // [out, 4]
                int in = la.length / 4;
                for (int i = 0; i < got.length; i++) {
                    int o = i / in;
                    int c = i % in;
                    double update = 0;
                    for (int k = 0; k < 4; k++) {
                        update += (double) lb[o * 4 + k] * la[k * in + c];
                    }
                    worst = Math.max(worst, (float) Math.abs(got[i] - (w[i] + 2.0 * update)));
                }
            }
            assertTrue(worst <= 1e-5, "merged vs deq(W) + 2·B·A: " + worst);
        }
    }

    /** A random LoRA adapter with the record of an NF4, double-quantized, blocksize-64 base beside it. */
    private Path qloraAdapter(Path tmp) throws Exception {
        Path adapter = randomAdapter(tmp.resolve("adapter"));
        Path qlora = tmp.resolve("qlora");
        Files.createDirectories(qlora);
        for (String f : List.of("adapter_config.json", "adapter_model.safetensors")) {
            Files.copy(adapter.resolve(f), qlora.resolve(f));
        }
        Files.writeString(qlora.resolve(ModelLoader.ADAPTER_QUANTIZATION), "{\"quant_method\": \"bitsandbytes\", \"load_in_4bit\": true, "
                + "\"bnb_4bit_quant_type\": \"nf4\", \"bnb_4bit_blocksize\": 64, \"bnb_4bit_use_double_quant\": true}");
        return qlora;
    }

    /** A full model directory cannot hold a 4-bit weight as it is: writing one is refused rather than written without it. */
    @Test
    void aQuantizedModelIsNotWrittenAsAFullDirectory(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("nf4");
        quantize(out, false);
        try (Scope s = Scope.open("test"); LoadedModel m = loader.load(out, null, be, DType.F32, s)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> ModelDirectoryWriter.write(m.module(), out, tmp.resolve("full")));
            assertEquals("'model.layers.0.self_attn.q_proj' has a quantized base weight, which a full model directory cannot hold as it is; "
                    + "make its Linears dense first (attune export writes an adapter merged into its dequantized base)", e.getMessage());
        }
        assertFalse(Files.exists(tmp.resolve("full")));
    }

    /** A PEFT LoRA adapter on every decoder Linear of stories260K with random A and B. */
    private Path randomAdapter(Path out) throws Exception {
        try (Scope s = Scope.open("adapter")) {
            ai.attune.api.nn.Module m;
            try (SafetensorsReader w = SafetensorsReader.openModelDir(STORIES)) {
                m = new LlamaFamily().load(ai.attune.api.model.ModelConfig.read(STORIES), w, be, DType.F32, s);
            }
            LoraMethod lora = new LoraMethod();
            ai.attune.plugins.lora.LoraConfig cfg = new ObjectMapper().readValue("{\"r\": 4, \"lora_alpha\": 8, \"target_modules\": \"all-linear\"}",
                    ai.attune.plugins.lora.LoraConfig.class);
            var ctx = new ai.attune.api.spi.MethodContext(be, DType.F32, s, 1, new ai.attune.api.nn.DropoutSeeds(1), STORIES, null);
            java.util.Random r = new java.util.Random(9);
            for (ai.attune.api.nn.Parameter p : lora.apply(m, cfg, ctx)) {
                float[] x = new float[Math.toIntExact(p.value().numel())];
                for (int i = 0; i < x.length; i++) {
                    x[i] = (float) (r.nextGaussian() * 0.1);
                }
                be.copy(Tensors.of(be, x, p.value().shape()), p.value());
            }
            lora.save(m, cfg, ctx, out);
        }
        return out;
    }

    /** The logits of the ids under the model in {@code dir}, loaded through the loader as score and generate do. */
    private float[] logits(Path dir) throws Exception {
        return logits(dir, null);
    }

    private float[] logits(Path dir, Path adapter) throws Exception {
        try (Scope s = Scope.open("test"); LoadedModel m = loader.load(dir, adapter, be, DType.F32, s); GradMode.Region ignored = GradMode.noGrad()) {
            Tensor ids = Tensors.ofLongs(be, IDS, 1, IDS.length);
            return Tensors.toFloats(((CausalLM) m.module()).forward(ids, null, null));
        }
    }
}
