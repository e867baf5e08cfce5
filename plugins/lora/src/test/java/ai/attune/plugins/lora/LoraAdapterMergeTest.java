package ai.attune.plugins.lora;

import ai.attune.plugins.model.llama.LlamaFamily;

import ai.attune.api.io.SafetensorsReader;
import ai.attune.api.io.SafetensorsWriter;
import ai.attune.api.model.ModelConfig;
import ai.attune.api.model.ModelLoadException;
import ai.attune.api.nn.Module;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensors;
import ai.attune.kernels.jvm.JvmBackend;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** A PEFT adapter on stories260K's layer-0 q_proj: merged weight = base + scaling * B @ A, summed by hand. */
class LoraAdapterMergeTest {
    static final java.nio.file.Path STORIES = java.nio.file.Path.of("../../../shared/models/stories260K");

    static final int R = 2, IN = 64, OUT = 64;

    @TempDir
    Path adapter;

    double[] a = new double[R * IN];
    double[] b = new double[OUT * R];

    void writeAdapter(String config, String module) throws Exception {
        Random rnd = new Random(5);
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) (rnd.nextGaussian() * 0.1);
        }
        for (int i = 0; i < b.length; i++) {
            b[i] = (float) (rnd.nextGaussian() * 0.1);
        }
        Files.writeString(adapter.resolve("adapter_config.json"), config);
        try (Arena arena = Arena.ofConfined()) {
            SafetensorsWriter w = new SafetensorsWriter();
            w.add("base_model.model." + module + ".lora_A.weight", DType.F32, new long[] {R, IN}, f32(arena, a));
            w.add("base_model.model." + module + ".lora_B.weight", DType.F32, new long[] {OUT, R}, f32(arena, b));
            w.write(adapter.resolve("adapter_model.safetensors"));
        }
    }

    static MemorySegment f32(Arena arena, double[] v) {
        MemorySegment s = arena.allocate(v.length * 4L);
        for (int i = 0; i < v.length; i++) {
            s.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, (float) v[i]);
        }
        return s;
    }

    double[][] baseAndMerged(double expectedScaling) throws Exception {
        JvmBackend be = new JvmBackend();
        try (Scope s = Scope.open(); SafetensorsReader w = SafetensorsReader.openModelDir(STORIES)) {
            Module m = new LlamaFamily().load(ModelConfig.read(STORIES), w, be, DType.F32, s);
            double[] base = Tensors.toDoubles(m.namedParameters().get("model.layers.0.self_attn.q_proj.weight").value());
            LoraAdapter.read(adapter).mergeInto(m);
            double[] merged = Tensors.toDoubles(m.namedParameters().get("model.layers.0.self_attn.q_proj.weight").value());
            double[] want = base.clone();
            for (int o = 0; o < OUT; o++) {
                for (int i = 0; i < IN; i++) {
                    double d = 0;
                    for (int k = 0; k < R; k++) {
                        d += b[o * R + k] * a[k * IN + i];
                    }
                    want[o * IN + i] += expectedScaling * d;
                }
            }
            return new double[][] {want, merged};
        }
    }

    @Test
    void loraScalingIsAlphaOverR() throws Exception {
        writeAdapter("{\"peft_type\": \"LORA\", \"r\": 2, \"lora_alpha\": 16, \"target_modules\": [\"q_proj\"]}", "model.layers.0.self_attn.q_proj");
        double[][] r = baseAndMerged(16.0 / 2);
        for (int i = 0; i < r[0].length; i++) {
            assertEquals(r[0][i], r[1][i], 1e-5);
        }
    }

    @Test
    void rsloraScalingIsAlphaOverSqrtR() throws Exception {
        writeAdapter("{\"peft_type\": \"LORA\", \"r\": 2, \"lora_alpha\": 16, \"use_rslora\": true}", "model.layers.0.self_attn.q_proj");
        double[][] r = baseAndMerged(16.0 / Math.sqrt(2));
        for (int i = 0; i < r[0].length; i++) {
            assertEquals(r[0][i], r[1][i], 1e-5);
        }
    }

    @Test
    void anAdapterForAModuleTheModelLacksIsRefused() throws Exception {
        writeAdapter("{\"peft_type\": \"LORA\", \"r\": 2, \"lora_alpha\": 16}", "model.layers.9.self_attn.q_proj");
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> baseAndMerged(1));
        assertEquals("adapter_model.safetensors: tensor 'base_model.model.model.layers.9.self_attn.q_proj.lora_A.weight' adapts "
                + "'model.layers.9.self_attn.q_proj', which the base model does not have", e.getMessage());
    }
}
