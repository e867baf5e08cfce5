package ai.attune.plugins.model.bert;

import ai.attune.api.io.SafetensorsWriter;
import ai.attune.api.tensor.DType;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.UnaryOperator;

/**
 * A small random BERT written as a Hugging Face directory: config.json and model.safetensors with
 * HF's parameter names. Weights are float32 values kept here as doubles, for the reference.
 */
final class TinyBert {
    static final int HIDDEN = 12, HEADS = 3, LAYERS = 2, INTERMEDIATE = 20, VOCAB = 30, MAX_POSITIONS = 10, TYPES = 2;
    static final double EPS = 1e-6;

    /** Name to (shape, values), in HF's order. */
    record W(int[] shape, double[] values) {
    }

    final Map<String, W> weights = new LinkedHashMap<>();

    TinyBert(long seed) {
        Random r = new Random(seed);
        put("embeddings.word_embeddings.weight", r, 0.5, 0, VOCAB, HIDDEN);
        put("embeddings.position_embeddings.weight", r, 0.5, 0, MAX_POSITIONS, HIDDEN);
        put("embeddings.token_type_embeddings.weight", r, 0.5, 0, TYPES, HIDDEN);
        layerNorm("embeddings.LayerNorm", r);
        for (int l = 0; l < LAYERS; l++) {
            String p = "encoder.layer." + l + ".";
            for (String m : List.of("query", "key", "value")) {
                linear(p + "attention.self." + m, r, HIDDEN, HIDDEN);
            }
            linear(p + "attention.output.dense", r, HIDDEN, HIDDEN);
            layerNorm(p + "attention.output.LayerNorm", r);
            linear(p + "intermediate.dense", r, HIDDEN, INTERMEDIATE);
            linear(p + "output.dense", r, INTERMEDIATE, HIDDEN);
            layerNorm(p + "output.LayerNorm", r);
        }
    }

    private void linear(String name, Random r, int in, int out) {
        put(name + ".weight", r, 0.6 / Math.sqrt(in), 0, out, in);
        put(name + ".bias", r, 0.1, 0, out);
    }

    private void layerNorm(String name, Random r) {
        put(name + ".weight", r, 0.2, 1, HIDDEN);
        put(name + ".bias", r, 0.1, 0, HIDDEN);
    }

    /** Gaussian values of {@code scale} around {@code mean}, rounded to float32 as the file stores them. */
    private void put(String name, Random r, double scale, double mean, int... shape) {
        int n = 1;
        for (int d : shape) {
            n *= d;
        }
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (mean + scale * r.nextGaussian());
        }
        weights.put(name, new W(shape, v));
    }

    double[] get(String name) {
        return weights.get(name).values();
    }

    static String config(int hidden, int heads, String extra) {
        return """
                {"model_type": "bert", "architectures": ["BertModel"], "hidden_size": %d, "num_hidden_layers": %d,
                 "num_attention_heads": %d, "intermediate_size": %d, "vocab_size": %d, "max_position_embeddings": %d,
                 "type_vocab_size": %d, "layer_norm_eps": %s, "hidden_act": "gelu"%s}
                """.formatted(hidden, LAYERS, heads, INTERMEDIATE, VOCAB, MAX_POSITIONS, TYPES, EPS, extra);
    }

    /** Writes config.json and model.safetensors; {@code rename} maps or drops (null) names, {@code extra} adds or replaces tensors. */
    Path write(Path dir, String config, UnaryOperator<String> rename, Map<String, W> extra) throws IOException {
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("config.json"), config);
        SafetensorsWriter w = new SafetensorsWriter().putMetadata("format", "pt");
        Map<String, W> all = new LinkedHashMap<>();
        weights.forEach((n, t) -> {
            String name = rename.apply(n);
            if (name != null) {
                all.put(name, t);
            }
        });
        all.putAll(extra);
        for (Map.Entry<String, W> e : all.entrySet()) {
            W t = e.getValue();
            long[] shape = new long[t.shape().length];
            for (int i = 0; i < shape.length; i++) {
                shape[i] = t.shape()[i];
            }
            w.add(e.getKey(), DType.F32, shape, f32(t.values()));
        }
        w.write(dir.resolve("model.safetensors"));
        return dir;
    }

    Path write(Path dir) throws IOException {
        return write(dir, config(HIDDEN, HEADS, ""), n -> n, Map.of());
    }

    private static MemorySegment f32(double[] v) {
        MemorySegment s = MemorySegment.ofArray(new byte[4 * v.length]);
        for (int i = 0; i < v.length; i++) {
            s.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), i, (float) v[i]);
        }
        return s;
    }
}
