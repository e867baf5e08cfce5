package ai.attune.plugins.qlora;

import ai.attune.api.io.SafetensorsReader;
import ai.attune.api.model.ModelConfig;
import ai.attune.api.model.QuantizedCheckpoint;
import ai.attune.api.nn.DropoutSeeds;
import ai.attune.api.nn.Module;
import ai.attune.api.nn.Parameter;
import ai.attune.api.spi.MethodContext;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.kernels.jvm.JvmBackend;
import ai.attune.plugins.lora.LoraMethod;
import ai.attune.plugins.model.llama.LlamaFamily;
import ai.attune.plugins.quant.bnb4.Bnb4Config;
import ai.attune.plugins.quant.bnb4.Nf4Quantizer;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** QLoRA over the real stories260K: LoRA's adapters on a 4-bit base, saved as PEFT LoRA with the quantization beside them. */
class QloraMethodTest {
    static final Path STORIES = Path.of("../../../shared/models/stories260K");
    private static final String LORA = "{\"r\": 4, \"lora_alpha\": 8, \"target_modules\": \"all-linear\"}";

    private final JvmBackend be = new JvmBackend();
    private final LoraMethod lora = new LoraMethod();
    private final QloraMethod qlora = new QloraMethod(lora);

    private Module stories(Scope s, Bnb4Config quantization) throws Exception {
        try (SafetensorsReader raw = SafetensorsReader.openModelDir(STORIES);
             SafetensorsReader w = quantization == null ? raw : QuantizedCheckpoint.quantizing(raw, new Nf4Quantizer(), quantization)) {
            return new LlamaFamily().load(ModelConfig.read(STORIES), w, be, DType.F32, s);
        }
    }

    private MethodContext context(Scope s) {
        return new MethodContext(be, DType.F32, s, 3, new DropoutSeeds(3), STORIES, null);
    }

    private ai.attune.plugins.lora.LoraConfig config() throws Exception {
        return new ObjectMapper().readValue(LORA, ai.attune.plugins.lora.LoraConfig.class);
    }

    @Test
    void trainsLorasAdaptersOverTheQuantizedBase() throws Exception {
        try (Scope s = Scope.open()) {
            List<Parameter> q = qlora.apply(stories(s, new Bnb4Config(64, true)), config(), context(s));
            List<Parameter> l = lora.apply(stories(s, null), config(), context(s));
            assertEquals(l.stream().map(Parameter::name).toList(), q.stream().map(Parameter::name).toList());
            assertEquals(70, q.size(), "A and B on 35 decoder Linears");
        }
    }

    @Test
    void refusesADenseBase() throws Exception {
        try (Scope s = Scope.open()) {
            Module dense = stories(s, null);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> qlora.apply(dense, config(), context(s)));
            assertEquals("method qlora trains over a 4-bit base, and this model has no quantized Linear weight: add a 'quantization: "
                    + "{load_in_4bit: true, bnb_4bit_quant_type: nf4, bnb_4bit_use_double_quant: true}' block to the recipe, or train a model "
                    + "that attune quantize wrote", e.getMessage());
        }
    }

    /** The PEFT files are LoRA's, byte for byte; the quantization is recorded with BitsAndBytesConfig's keys. */
    @Test
    void savesAPeftLoraDirectoryWithTheQuantizationBesideIt(@TempDir Path dir) throws Exception {
        try (Scope s = Scope.open()) {
            Module m = stories(s, new Bnb4Config(128, true));
            ai.attune.plugins.lora.LoraConfig cfg = config();
            qlora.apply(m, cfg, context(s));
            qlora.save(m, cfg, context(s), dir.resolve("qlora"));
            lora.save(m, cfg, context(s), dir.resolve("lora"));
        }
        Set<String> loraFiles = names(dir.resolve("lora"));
        Set<String> expected = new TreeSet<>(loraFiles);
        expected.add(QloraMethod.QUANTIZATION_FILE);
        assertEquals(expected, names(dir.resolve("qlora")));
        for (String f : loraFiles) {
            assertEquals(-1, Files.mismatch(dir.resolve("lora").resolve(f), dir.resolve("qlora").resolve(f)), f);
        }
        assertEquals("{\"quant_method\":\"bitsandbytes\",\"load_in_4bit\":true,\"bnb_4bit_quant_type\":\"nf4\",\"bnb_4bit_blocksize\":128,"
                        + "\"bnb_4bit_use_double_quant\":true,\"bnb_4bit_compute_dtype\":\"float32\",\"bnb_4bit_quant_storage\":\"uint8\"}",
                new ObjectMapper().readTree(dir.resolve("qlora").resolve(QloraMethod.QUANTIZATION_FILE).toFile()).toString());
        try (Stream<Path> left = Files.list(dir)) {
            assertFalse(left.anyMatch(p -> p.getFileName().toString().startsWith(".")), "no temporary directory is left");
        }
    }

    private static Set<String> names(Path dir) throws Exception {
        try (Stream<Path> files = Files.list(dir)) {
            return new TreeSet<>(files.map(p -> p.getFileName().toString()).toList());
        }
    }
}
