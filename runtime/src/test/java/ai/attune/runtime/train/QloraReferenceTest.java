package ai.attune.runtime.train;

import ai.attune.api.data.Example;
import ai.attune.api.io.SafetensorsReader;
import ai.attune.api.model.CausalLM;
import ai.attune.api.model.ModelConfig;
import ai.attune.api.model.QuantizedCheckpoint;
import ai.attune.api.nn.DropoutSeeds;
import ai.attune.api.nn.LinearLayer;
import ai.attune.api.nn.Module;
import ai.attune.api.nn.Parameter;
import ai.attune.api.spi.MethodContext;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;
import ai.attune.kernels.jvm.JvmBackend;
import ai.attune.plugins.lora.LoraConfig;
import ai.attune.plugins.lora.LoraMethod;
import ai.attune.plugins.model.llama.LlamaFamily;
import ai.attune.plugins.quant.bnb4.Bnb4Config;
import ai.attune.plugins.quant.bnb4.Nf4Quantizer;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * QLoRA's semantics on the real stories260K: LoRA trained over a base whose Linear weights were
 * quantized to NF4 with double quantization as they loaded (each dequantized per product, forward
 * and backward) ends where LoRA trained over the dense model holding the bitsandbytes
 * dequantization of those weights ends: 4 AdamW steps from the same non-zero initial adapter,
 * every adapter tensor within 1e-5.
 */
class QloraReferenceTest {
    private static final Path STORIES = StoriesLoraRuns.STORIES;
    private static final Bnb4Config NF4_DOUBLE_QUANT = new Bnb4Config(64, true);

    @TempDir
    Path dir;

    private final JvmBackend be = new JvmBackend();

    @Test
    void fourAdamWStepsMatchLoraOnTheDequantizedBase() throws Exception {
        List<Example> data = StoriesLoraRuns.examples(StoriesLoraRuns.mobyDick(dir, "train.jsonl", 0, 24));
        Path initial = initialAdapter();
        String lora = "{\"r\": 4, \"lora_alpha\": 8, \"target_modules\": \"all-linear\", \"init_from\": \"" + initial + "\"}";

        Map<String, float[]> qlora = train("qlora", data, lora, true);
        Map<String, float[]> reference = train("reference", data, lora, false);
        Map<String, float[]> start = tensors(initial.resolve("adapter_model.safetensors"));

        assertEquals(reference.keySet(), qlora.keySet());
        assertEquals(70, qlora.size(), "A and B of 35 decoder Linears");
        float maxDiff = 0;
        float moved = 0;
        for (String k : reference.keySet()) {
            float[] a = qlora.get(k);
            float[] b = reference.get(k);
            for (int i = 0; i < a.length; i++) {
                maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
                moved = Math.max(moved, Math.abs(a[i] - start.get(k)[i]));
            }
        }
        assertTrue(maxDiff <= 1e-5, "QLoRA vs LoRA on the dequantized base: " + maxDiff);
        assertTrue(moved > 1e-3, "the adapters trained: " + moved);
    }

    /** Runs 4 steps and returns the saved adapter; {@code quantized}: the base quantized at load, else the dense dequantized base. */
    private Map<String, float[]> train(String name, List<Example> data, String lora, boolean quantized) throws Exception {
        Path run = dir.resolve(name);
        try (Scope job = Scope.open("job")) {
            CausalLM lm = quantized ? quantizedAtLoad(job) : dequantizedBase(job);
            TrainingRun.Setup s = StoriesLoraRuns.setup(lm, be, job, lora, 1e-2, 4, 0, 0, 3, null);
            RunDirectory rd = new RunDirectory(run);
            rd.create("test: true\n");
            new TrainingRun(s, data, List.of(), List.of(), rd, e -> { }).run(false);
        }
        return ResumeTest.adapter(run);
    }

    private CausalLM quantizedAtLoad(Scope job) throws Exception {
        try (SafetensorsReader w = QuantizedCheckpoint.quantizing(SafetensorsReader.openModelDir(STORIES), new Nf4Quantizer(), NF4_DOUBLE_QUANT)) {
            return (CausalLM) new LlamaFamily().load(ModelConfig.read(STORIES), w, be, DType.F32, job);
        }
    }

    /** stories260K with every decoder Linear weight replaced by its NF4 (double quant) dequantization, as plain dense weights. */
    private CausalLM dequantizedBase(Scope job) throws Exception {
        CausalLM dense;
        try (SafetensorsReader w = SafetensorsReader.openModelDir(STORIES)) {
            dense = (CausalLM) new LlamaFamily().load(ModelConfig.read(STORIES), w, be, DType.F32, job);
        }
        int replaced = 0;
        try (Scope tmp = Scope.open("quantized")) {
            Map<String, Module> q = quantizedAtLoad(tmp).module().namedModules();
            for (Map.Entry<String, Module> e : dense.module().namedModules().entrySet()) {
                if (q.get(e.getKey()) instanceof LinearLayer ql && ql.weightSource() != null) {
                    be.copy(ql.weightSource().materialize(DType.F32), ((LinearLayer) e.getValue()).weight().value());
                    replaced++;
                }
            }
        }
        assertEquals(35, replaced);
        return dense;
    }

    private static Map<String, float[]> tensors(Path file) throws Exception {
        Map<String, float[]> out = new java.util.TreeMap<>();
        try (ai.attune.api.io.SafetensorsFile f = ai.attune.api.io.SafetensorsFile.open(file)) {
            for (String n : f.names()) {
                out.put(n, f.data(n).toArray(java.lang.foreign.ValueLayout.JAVA_FLOAT));
            }
        }
        return out;
    }

    /** A LoRA adapter on every decoder Linear with random, non-zero A and B, saved as PEFT saves one. */
    private Path initialAdapter() throws Exception {
        Path out = dir.resolve("initial");
        try (Scope s = Scope.open("init")) {
            Module m;
            try (SafetensorsReader w = SafetensorsReader.openModelDir(STORIES)) {
                m = new LlamaFamily().load(ModelConfig.read(STORIES), w, be, DType.F32, s);
            }
            LoraMethod method = new LoraMethod();
            LoraConfig cfg = new ObjectMapper().readValue("{\"r\": 4, \"lora_alpha\": 8, \"target_modules\": \"all-linear\"}", LoraConfig.class);
            MethodContext ctx = new MethodContext(be, DType.F32, s, 1, new DropoutSeeds(1), STORIES, null);
            Random r = new Random(5);
            for (Parameter p : method.apply(m, cfg, ctx)) {
                Tensor v = p.value();
                float[] x = new float[Math.toIntExact(v.numel())];
                for (int i = 0; i < x.length; i++) {
                    x[i] = (float) (r.nextGaussian() * 0.05);
                }
                be.copy(Tensors.of(be, x, v.shape()), v);
            }
            method.save(m, cfg, ctx, out);
        }
        return out;
    }
}
