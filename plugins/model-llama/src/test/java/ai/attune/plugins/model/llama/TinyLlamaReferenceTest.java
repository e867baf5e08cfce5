package ai.attune.plugins.model.llama;

import ai.attune.api.autograd.GradMode;
import ai.attune.api.io.SafetensorsFile;
import ai.attune.api.io.SafetensorsWriter;
import ai.attune.api.model.CausalLM;
import ai.attune.api.model.ModelConfig;
import ai.attune.api.model.ModelLoadException;
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
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Tiny random Llama-family checkpoints written in HF layout by the test, loaded through the
 * family, and checked against the transformers math written out below in plain double loops.
 */
class TinyLlamaReferenceTest {
    static final int H = 16, I = 24, L = 2, HQ = 4, HKV = 2, D = 4, V = 23;

    @TempDir
    Path dir;

    record Spec(String modelType, boolean tied, boolean qkvBias, String ropeScaling) {}

    Map<String, double[]> weights(Spec s, long seed) {
        Random r = new Random(seed);
        Map<String, double[]> w = new LinkedHashMap<>();
        w.put("model.embed_tokens.weight", rand(r, V * H, 0.5));
        for (int l = 0; l < L; l++) {
            String p = "model.layers." + l + ".";
            w.put(p + "self_attn.q_proj.weight", rand(r, HQ * D * H, 0.4));
            w.put(p + "self_attn.k_proj.weight", rand(r, HKV * D * H, 0.4));
            w.put(p + "self_attn.v_proj.weight", rand(r, HKV * D * H, 0.4));
            if (s.qkvBias) {
                w.put(p + "self_attn.q_proj.bias", rand(r, HQ * D, 0.2));
                w.put(p + "self_attn.k_proj.bias", rand(r, HKV * D, 0.2));
                w.put(p + "self_attn.v_proj.bias", rand(r, HKV * D, 0.2));
            }
            w.put(p + "self_attn.o_proj.weight", rand(r, H * HQ * D, 0.4));
            w.put(p + "mlp.gate_proj.weight", rand(r, I * H, 0.4));
            w.put(p + "mlp.up_proj.weight", rand(r, I * H, 0.4));
            w.put(p + "mlp.down_proj.weight", rand(r, H * I, 0.4));
            w.put(p + "input_layernorm.weight", plusOne(rand(r, H, 0.2)));
            w.put(p + "post_attention_layernorm.weight", plusOne(rand(r, H, 0.2)));
        }
        w.put("model.norm.weight", plusOne(rand(r, H, 0.2)));
        if (!s.tied) {
            w.put("lm_head.weight", rand(r, V * H, 0.5));
        }
        // Round to f32 once, so the checkpoint and the reference see the same numbers.
        w.replaceAll((k, v) -> {
            double[] f = v.clone();
            for (int i = 0; i < f.length; i++) {
                f[i] = (float) f[i];
            }
            return f;
        });
        return w;
    }

    void write(Spec s, Map<String, double[]> w, DType fileType) throws Exception {
        String scaling = s.ropeScaling == null ? "null" : s.ropeScaling;
        Files.writeString(dir.resolve("config.json"), """
                {"architectures": ["X"], "model_type": "%s", "hidden_size": %d, "intermediate_size": %d,
                 "num_hidden_layers": %d, "num_attention_heads": %d, "num_key_value_heads": %d, "vocab_size": %d,
                 "max_position_embeddings": 64, "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "rope_scaling": %s,
                 "tie_word_embeddings": %s, "hidden_act": "silu"}
                """.formatted(s.modelType, H, I, L, HQ, HKV, V, scaling, s.tied));
        try (Arena arena = Arena.ofConfined()) {
            SafetensorsWriter writer = new SafetensorsWriter();
            for (var e : w.entrySet()) {
                double[] v = e.getValue();
                MemorySegment seg = arena.allocate((long) v.length * fileType.byteSize());
                for (int i = 0; i < v.length; i++) {
                    if (fileType == DType.F32) {
                        seg.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, (float) v[i]);
                    } else {
                        seg.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i, (short) (Float.floatToRawIntBits((float) v[i]) >>> 16));
                    }
                }
                writer.add(e.getKey(), fileType, shapeOf(e.getKey(), v.length), seg);
            }
            writer.write(dir.resolve("model.safetensors"));
        }
    }

    static long[] shapeOf(String name, int n) {
        int rows = name.endsWith("weight") && !name.contains("layernorm") && !name.equals("model.norm.weight")
                ? (name.contains("embed") || name.contains("lm_head") ? V : switch (name.substring(name.lastIndexOf('.', name.length() - 8) + 1)) {
                    case "q_proj.weight" -> HQ * D;
                    case "k_proj.weight", "v_proj.weight" -> HKV * D;
                    case "o_proj.weight", "down_proj.weight" -> H;
                    default -> I;
                }) : n;
        return rows == n ? new long[] {n} : new long[] {rows, n / rows};
    }

    double[] runAttune(long[] ids) throws Exception {
        JvmBackend be = new JvmBackend();
        try (Scope s = Scope.open(); SafetensorsFile f = SafetensorsFile.open(dir.resolve("model.safetensors"));
             GradMode.Region ng = GradMode.noGrad()) {
            CausalLM lm = (CausalLM) new LlamaFamily().load(ModelConfig.read(dir), f, be, DType.F32, s);
            return Tensors.toDoubles(lm.forward(Tensors.ofLongs(be, ids, 1, ids.length), null, null));
        }
    }

    void check(Spec s, DType fileType) throws Exception {
        Map<String, double[]> w = weights(s, 11);
        if (fileType == DType.BF16) {
            w.replaceAll((k, v) -> {
                double[] b = v.clone();
                for (int i = 0; i < b.length; i++) {
                    b[i] = Float.intBitsToFloat(Float.floatToRawIntBits((float) b[i]) & 0xFFFF0000); // the truncation write() stores
                }
                return b;
            });
        }
        write(s, w, fileType);
        long[] ids = {1, 7, 3, 22, 0, 5, 9};
        double[] got = runAttune(ids);
        double[] want = LlamaReference.logits(w, s.tied, s.qkvBias, invFreq(s), ids, H, I, L, HQ, HKV, D, V, 1e-5);
        double max = 0;
        for (int i = 0; i < want.length; i++) {
            max = Math.max(max, Math.abs(want[i] - got[i]));
        }
        assertTrue(max < 2e-4, s + " " + fileType + ": max |attune - reference| = " + max);
    }

    /** Inverse frequencies derived here independently of the family's code. */
    static double[] invFreq(Spec s) {
        double[] f = new double[D / 2];
        for (int i = 0; i < f.length; i++) {
            f[i] = Math.pow(10000.0, -2.0 * i / D);
        }
        if (s.ropeScaling != null && s.ropeScaling.contains("llama3")) {
            // factor 8, low 1, high 4, original context 8: low wavelen 8, high wavelen 2
            for (int i = 0; i < f.length; i++) {
                double wl = 2 * Math.PI / f[i];
                if (wl > 8) {
                    f[i] = f[i] / 8;
                } else if (wl >= 2) {
                    double smooth = (8 / wl - 1) / (4 - 1);
                    f[i] = (1 - smooth) * f[i] / 8 + smooth * f[i];
                }
            }
        }
        return f;
    }

    @Test
    void llamaUntiedGqa() throws Exception {
        check(new Spec("llama", false, false, null), DType.F32);
    }

    @Test
    void llamaTiedHead() throws Exception {
        check(new Spec("llama", true, false, null), DType.F32);
    }

    @Test
    void qwen2BiasedQkv() throws Exception {
        check(new Spec("qwen2", false, true, null), DType.F32);
    }

    @Test
    void llama3RopeScaling() throws Exception {
        check(new Spec("llama", true, false,
                "{\"rope_type\": \"llama3\", \"factor\": 8.0, \"low_freq_factor\": 1.0, \"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 8}"), DType.F32);
    }

    @Test
    void bf16CheckpointLoadsIntoF32() throws Exception {
        check(new Spec("mistral", false, false, null), DType.BF16);
    }

    @Test
    void missingAndMisshapenWeightsNameTheTensor() throws Exception {
        Spec s = new Spec("llama", false, false, null);
        Map<String, double[]> w = weights(s, 3);
        w.remove("model.layers.1.mlp.up_proj.weight");
        write(s, w, DType.F32);
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> runAttune(new long[] {1}));
        assertEquals("model.safetensors: missing weight 'model.layers.1.mlp.up_proj.weight' of shape [24, 16]", e.getMessage());

        Files.writeString(dir.resolve("config.json"), Files.readString(dir.resolve("config.json")).replace("\"num_key_value_heads\": 2", "\"num_key_value_heads\": 3"));
        ModelLoadException e2 = assertThrows(ModelLoadException.class, () -> runAttune(new long[] {1}));
        assertEquals("config.json: num_attention_heads 4 is not a multiple of num_key_value_heads 3", e2.getMessage());
    }

    static double[] rand(Random r, int n, double scale) {
        double[] out = new double[n];
        for (int i = 0; i < n; i++) {
            out[i] = (r.nextDouble() * 2 - 1) * scale;
        }
        return out;
    }

    static double[] plusOne(double[] v) {
        for (int i = 0; i < v.length; i++) {
            v[i] += 1;
        }
        return v;
    }
}
