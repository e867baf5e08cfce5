package ai.attune.plugins.model.gpt2;

import ai.attune.api.io.SafetensorsWriter;
import ai.attune.api.tensor.DType;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

/**
 * A tiny random GPT-2 as a Hugging Face directory would hold it: the weights as plain arrays (for
 * {@link Gpt2Reference}) and writers for config.json and model.safetensors in either name layout.
 */
final class TinyGpt2 {
    /** One checkpoint tensor, row-major. */
    record W(long[] shape, float[] data) {}

    static final int N_EMBD = 16;
    static final int N_LAYER = 2;
    static final int N_HEAD = 4;
    static final int VOCAB = 37;
    static final int N_POSITIONS = 32;

    final boolean tied;
    final String activation;
    final boolean inverseLayerIdx;
    final int nInner;
    /** Bare (OpenAI) names: wte.weight, h.0.attn.c_attn.weight, ..., and lm_head.weight when untied. */
    final Map<String, W> weights = new LinkedHashMap<>();

    TinyGpt2(long seed, boolean tied, String activation, boolean inverseLayerIdx) {
        this.tied = tied;
        this.activation = activation;
        this.inverseLayerIdx = inverseLayerIdx;
        this.nInner = 4 * N_EMBD;
        Random r = new Random(seed);
        int e = N_EMBD;
        put("wte.weight", r, 0.0, 0.5, VOCAB, e);
        put("wpe.weight", r, 0.0, 0.2, N_POSITIONS, e);
        for (int l = 0; l < N_LAYER; l++) {
            String p = "h." + l + ".";
            put(p + "ln_1.weight", r, 1.0, 0.1, e);
            put(p + "ln_1.bias", r, 0.0, 0.1, e);
            put(p + "attn.c_attn.weight", r, 0.0, 0.3, e, 3 * e);
            put(p + "attn.c_attn.bias", r, 0.0, 0.1, 3 * e);
            put(p + "attn.c_proj.weight", r, 0.0, 0.2, e, e);
            put(p + "attn.c_proj.bias", r, 0.0, 0.1, e);
            put(p + "ln_2.weight", r, 1.0, 0.1, e);
            put(p + "ln_2.bias", r, 0.0, 0.1, e);
            put(p + "mlp.c_fc.weight", r, 0.0, 0.3, e, nInner);
            put(p + "mlp.c_fc.bias", r, 0.0, 0.1, nInner);
            put(p + "mlp.c_proj.weight", r, 0.0, 0.15, nInner, e);
            put(p + "mlp.c_proj.bias", r, 0.0, 0.1, e);
        }
        put("ln_f.weight", r, 1.0, 0.1, e);
        put("ln_f.bias", r, 0.0, 0.1, e);
        if (!tied) {
            put("lm_head.weight", r, 0.0, 0.5, VOCAB, e);
        }
    }

    static TinyGpt2 standard(long seed) {
        return new TinyGpt2(seed, true, "gelu_new", false);
    }

    private void put(String name, Random r, double mean, double std, int... shape) {
        int n = 1;
        long[] s = new long[shape.length];
        for (int i = 0; i < shape.length; i++) {
            n *= shape[i];
            s[i] = shape[i];
        }
        float[] data = new float[n];
        for (int i = 0; i < n; i++) {
            data[i] = (float) (mean + std * r.nextGaussian());
        }
        weights.put(name, new W(s, data));
    }

    float[] get(String bareName) {
        return weights.get(bareName).data();
    }

    /**
     * The tensors under the names a file would use: with {@code transformer.} before everything
     * but lm_head, as transformers saves them, or bare plus the per-layer causal-mask buffers
     * {@code h.N.attn.bias}, as the original OpenAI upload has them.
     */
    Map<String, W> checkpoint(boolean prefixed) {
        Map<String, W> out = new LinkedHashMap<>();
        weights.forEach((n, w) -> out.put(prefixed && !n.startsWith("lm_head.") ? "transformer." + n : n, w));
        if (!prefixed) {
            float[] tril = new float[N_POSITIONS * N_POSITIONS];
            for (int i = 0; i < N_POSITIONS; i++) {
                for (int j = 0; j <= i; j++) {
                    tril[i * N_POSITIONS + j] = 1f;
                }
            }
            for (int l = 0; l < N_LAYER; l++) {
                out.put("h." + l + ".attn.bias", new W(new long[] {1, 1, N_POSITIONS, N_POSITIONS}, tril));
            }
        }
        return out;
    }

    ObjectNode config() {
        ObjectNode c = new ObjectMapper().createObjectNode();
        c.put("model_type", "gpt2");
        c.putArray("architectures").add("GPT2LMHeadModel");
        c.put("n_embd", N_EMBD);
        c.put("n_layer", N_LAYER);
        c.put("n_head", N_HEAD);
        c.put("n_positions", N_POSITIONS);
        c.put("n_ctx", N_POSITIONS);
        c.put("vocab_size", VOCAB);
        c.putNull("n_inner");
        c.put("layer_norm_epsilon", 1e-5);
        c.put("activation_function", activation);
        c.put("scale_attn_by_inverse_layer_idx", inverseLayerIdx);
        c.put("tie_word_embeddings", tied);
        return c;
    }

    /** Writes config.json and model.safetensors into {@code dir}. */
    void write(Path dir, boolean prefixed) throws IOException {
        writeConfig(dir, config());
        writeWeights(dir, checkpoint(prefixed));
    }

    static void writeConfig(Path dir, ObjectNode config) throws IOException {
        Files.writeString(dir.resolve("config.json"), config.toPrettyString());
    }

    static void writeWeights(Path dir, Map<String, W> tensors) throws IOException {
        SafetensorsWriter writer = new SafetensorsWriter();
        tensors.forEach((name, w) -> {
            ByteBuffer bytes = ByteBuffer.allocate(w.data().length * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
            bytes.asFloatBuffer().put(w.data());
            writer.add(name, DType.F32, w.shape(), MemorySegment.ofArray(bytes.array()));
        });
        writer.putMetadata("format", "pt");
        writer.write(dir.resolve("model.safetensors"));
    }
}
