package ai.attune.itests;

import ai.attune.api.io.SafetensorsFile;
import ai.attune.api.io.SafetensorsWriter;
import ai.attune.api.tensor.DType;
import org.junit.BeforeClass;
import org.junit.Test;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.IntStream;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

/**
 * {@code attune merge} from the distribution on models it has not seen: the pretrained stories260K
 * as the base and two models made from it with their own noise. Each output is checked against a
 * reference written here the plain way, whole tensors in memory, a full sort for TIES' top-k, in
 * the order of operations of mergekit's torch code, which the streamed implementation must match.
 */
public class MergeLauncherIT {
    static Path dir;
    static Map<String, float[]> base;
    static Map<String, float[]> m1;
    static Map<String, float[]> m2;

    @BeforeClass
    public static void models() throws IOException {
        dir = Files.createTempDirectory("attune-merge");
        base = read(Path.of(LauncherIT.STORIES).resolve("model.safetensors"));
        m1 = noisy(base, 1);
        m2 = noisy(base, 2);
        copyModel("base", base);
        copyModel("m1", m1);
        copyModel("m2", m2);
    }

    static Map<String, float[]> read(Path file) throws IOException {
        Map<String, float[]> out = new LinkedHashMap<>();
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            for (String n : f.names()) {
                out.put(n, f.data(n).toArray(ValueLayout.JAVA_FLOAT_UNALIGNED));
            }
        }
        return out;
    }

    static Map<String, float[]> noisy(Map<String, float[]> from, int seed) {
        Random r = new Random(seed);
        Map<String, float[]> out = new LinkedHashMap<>();
        from.forEach((k, v) -> {
            float[] x = v.clone();
            for (int i = 0; i < x.length; i++) {
                x[i] += (float) (0.01 * r.nextGaussian());
            }
            out.put(k, x);
        });
        return out;
    }

    static void copyModel(String name, Map<String, float[]> tensors) throws IOException {
        Path model = Files.createDirectories(dir.resolve(name));
        for (String f : List.of("config.json", "tokenizer.json", "tokenizer_config.json", "generation_config.json")) {
            Path src = Path.of(LauncherIT.STORIES).resolve(f);
            if (Files.exists(src)) {
                Files.copy(src, model.resolve(f));
            }
        }
        SafetensorsWriter w = new SafetensorsWriter();
        try (SafetensorsFile f = SafetensorsFile.open(Path.of(LauncherIT.STORIES).resolve("model.safetensors"))) {
            for (var e : tensors.entrySet()) {
                w.add(e.getKey(), DType.F32, f.info(e.getKey()).shape(), MemorySegment.ofArray(e.getValue()));
            }
            w.write(model.resolve("model.safetensors"));
        }
    }

    static Map<String, float[]> merge(String name, String yaml, String... flags) throws Exception {
        Path config = dir.resolve(name + ".yaml");
        Files.writeString(config, yaml.replace("$D", dir.toString()));
        Path out = dir.resolve(name + "-out");
        List<String> args = new ArrayList<>(List.of("merge", config.toString(), "--out", out.toString()));
        args.addAll(List.of(flags));
        LauncherIT.Result r = LauncherIT.attune(args.toArray(String[]::new));
        assertEquals(r.err(), 0, r.code());
        assertTrue(r.err(), Files.isRegularFile(out.resolve("mergekit_config.yml")));
        assertTrue(r.err(), Files.isRegularFile(out.resolve("tokenizer.json")));
        return read(out.resolve("model.safetensors"));
    }

    static void assertClose(Map<String, float[]> expected, Map<String, float[]> actual, double tol) {
        assertEquals(expected.keySet(), actual.keySet());
        for (String k : expected.keySet()) {
            float[] e = expected.get(k);
            float[] a = actual.get(k);
            for (int i = 0; i < e.length; i++) {
                assertEquals(k + "[" + i + "]", e[i], a[i], tol);
            }
        }
    }

    interface Elementwise {
        float apply(String tensor, int i, float b, float x1, float x2);
    }

    static Map<String, float[]> reference(Elementwise f) {
        Map<String, float[]> out = new LinkedHashMap<>();
        base.forEach((k, b) -> {
            float[] r = new float[b.length];
            for (int i = 0; i < r.length; i++) {
                r[i] = f.apply(k, i, b[i], m1.get(k)[i], m2.get(k)[i]);
            }
            out.put(k, r);
        });
        return out;
    }

    @Test
    public void linearIsTheWeightedAverage() throws Exception {
        Map<String, float[]> got = merge("linear", """
                merge_method: linear
                models:
                  - {model: $D/m1, parameters: {weight: 0.7}}
                  - {model: $D/m2, parameters: {weight: 0.3}}
                dtype: float32
                """);
        assertClose(reference((k, i, b, x1, x2) -> (0.7f * x1 + 0.3f * x2) / (0.7f + 0.3f)), got, 1e-6);
    }

    @Test
    public void taskArithmeticAddsScaledTaskVectors() throws Exception {
        Map<String, float[]> got = merge("ta", """
                merge_method: task_arithmetic
                base_model: $D/base
                models:
                  - {model: $D/m1, parameters: {weight: 0.6}}
                  - {model: $D/m2, parameters: {weight: 0.9}}
                parameters: {lambda: 0.8}
                dtype: float32
                """);
        assertClose(reference((k, i, b, x1, x2) -> b + (0.6f * (x1 - b) + 0.9f * (x2 - b)) * 0.8f), got, 1e-6);
    }

    @Test
    public void tiesTrimsElectsAndMerges() throws Exception {
        Map<String, float[]> got = merge("ties", """
                merge_method: ties
                base_model: $D/base
                models:
                  - {model: $D/m1, parameters: {weight: 1.0, density: 0.3}}
                  - {model: $D/m2, parameters: {weight: 0.5, density: 0.6}}
                dtype: float32
                """);
        Map<String, float[]> expected = new LinkedHashMap<>();
        base.forEach((k, b) -> {
            float[] t1 = topK(delta(m1.get(k), b), 0.3);
            float[] t2 = topK(delta(m2.get(k), b), 0.6);
            float[] r = new float[b.length];
            for (int i = 0; i < r.length; i++) {
                float w1 = t1[i] * 1f;
                float w2 = t2[i] * 0.5f;
                float sign = w1 + w2 >= 0 ? 1 : -1;
                float mixed = 0;
                float div = 0;
                if (Math.signum(w1) == sign) {
                    mixed += w1;
                    div += 1f;
                }
                if (Math.signum(w2) == sign) {
                    mixed += w2;
                    div += 0.5f;
                }
                r[i] = b[i] + mixed / (div == 0 ? 1 : div);
            }
            expected.put(k, r);
        });
        assertClose(expected, got, 1e-6);
    }

    static float[] delta(float[] x, float[] b) {
        float[] d = new float[x.length];
        for (int i = 0; i < d.length; i++) {
            d[i] = x[i] - b[i];
        }
        return d;
    }

    /** mergekit's magnitude(): the int(density·numel) largest |τ| by a full sort. */
    static float[] topK(float[] tau, double density) {
        int k = (int) (density * tau.length);
        Integer[] order = IntStream.range(0, tau.length).boxed().toArray(Integer[]::new);
        java.util.Arrays.sort(order, Comparator.comparingDouble((Integer i) -> Math.abs(tau[i])).reversed());
        float[] kept = new float[tau.length];
        for (int j = 0; j < k; j++) {
            kept[order[j]] = tau[order[j]];
        }
        return kept;
    }

    @Test
    public void dareAtDensityOneIsTaskArithmeticAndAtPointThreeKeepsThatShare() throws Exception {
        String models = """
                base_model: $D/base
                models:
                  - {model: $D/m1, parameters: {weight: 1.0, density: D}}
                dtype: float32
                """;
        Map<String, float[]> ta = merge("ta1", "merge_method: task_arithmetic\n" + models.replace(", density: D", ""));
        assertClose(ta, merge("dare1", "merge_method: dare_linear\n" + models.replace("D}", "1.0}")), 0);
        Map<String, float[]> dare = merge("dare03", "merge_method: dare_linear\n" + models.replace("D}", "0.3}"), "--random-seed", "7");
        long kept = 0;
        long total = 0;
        for (String k : base.keySet()) {
            float[] b = base.get(k);
            float[] x = m1.get(k);
            float[] d = dare.get(k);
            for (int i = 0; i < b.length; i++) {
                total++;
                if (d[i] != b[i]) {
                    assertEquals(k + "[" + i + "] is base or base + τ/0.3", b[i] + (x[i] - b[i]) / 0.3f, d[i], 1e-6);
                    kept++;
                }
            }
        }
        assertEquals("kept fraction", 0.3, kept / (double) total, 0.02);
        assertClose(dare, merge("dare03b", "merge_method: dare_linear\n" + models.replace("D}", "0.3}"), "--random-seed", "7"), 0);
    }

    @Test
    public void badConfigsAndMismatchedModelsAreOneLineWithNoOutput() throws Exception {
        String[][] cases = {
                {"merge_method: tie\nbase_model: $D/base\nmodels:\n  - {model: $D/m1, parameters: {weight: 1}}\n", "merge_method 'tie' is not installed (did you mean 'ties'?)"},
                {"merge_method: ties\nbase_model: $D/base\nmodels:\n  - {model: $D/m1, parameters: {wieght: 1}}\n", "unknown parameter 'wieght' (did you mean 'weight'?)"},
                {"merge_method: ties\nbase_model: $D/base\nmodels:\n  - {model: $D/m1}\n", "parameter 'weight' is required"},
                {"merge_method: ties\nbase_model: $D/base\nmodels:\n  - {model: $D/m1, parameters: {weight: 1, density: 0.00001}}\n", "keeps no entry"},
                {"merge_method: linear\nmodels:\n  - {model: $D/m1, parameters: {weight: 1}}\n  - {model: " + LauncherIT.STORIES + "/../nonexistent, parameters: {weight: 1}}\n", "not found"},
        };
        int n = 0;
        for (String[] c : cases) {
            Path config = dir.resolve("bad" + n + ".yaml");
            Files.writeString(config, c[0].replace("$D", dir.toString()));
            Path out = dir.resolve("bad" + n++ + "-out");
            LauncherIT.Result r = LauncherIT.attune("merge", config.toString(), "--out", out.toString());
            assertEquals(r.err(), 1, r.code());
            List<String> lines = FailedStartIT.attuneLines(r.err());
            assertEquals(r.err(), 1, lines.size());
            assertTrue(r.err(), lines.get(0).contains(c[1]));
            assertFalse(r.err(), r.err().contains("\tat "));
            assertFalse(out + " is not left behind", Files.exists(out));
        }
        // a tensor of another shape, named with its model
        Path odd = Files.createDirectories(dir.resolve("odd"));
        Files.copy(dir.resolve("m1/config.json"), odd.resolve("config.json"));
        SafetensorsWriter w = new SafetensorsWriter();
        m1.forEach((k, v) -> w.add(k, DType.F32, k.equals("model.norm.weight") ? new long[] {v.length / 2, 2} : new long[] {v.length},
                MemorySegment.ofArray(v)));
        w.write(odd.resolve("model.safetensors"));
        Path config = dir.resolve("odd.yaml");
        Files.writeString(config, "merge_method: task_arithmetic\nbase_model: " + odd + "\nmodels:\n  - {model: " + dir.resolve("m1")
                + ", parameters: {weight: 1}}\n");
        LauncherIT.Result r = LauncherIT.attune("merge", config.toString(), "--out", dir.resolve("odd-out").toString());
        assertEquals(r.err(), 1, r.code());
        assertTrue(r.err(), FailedStartIT.attuneLines(r.err()).get(0).contains("tensor 'model.embed_tokens.weight' is"));
        assertFalse(Files.exists(dir.resolve("odd-out")));
    }

    @Test
    public void aLoraAdapterOnItsBaseIsMergedAsItIsRead() throws Exception {
        // A PEFT adapter on layer 0's q_proj: r = 2, lora_alpha = 8 -> scaling 4
        String weight = "model.layers.0.self_attn.q_proj.weight";
        int out;
        int in;
        try (SafetensorsFile f = SafetensorsFile.open(dir.resolve("base/model.safetensors"))) {
            out = (int) f.info(weight).shape()[0];
            in = (int) f.info(weight).shape()[1];
        }
        Random r = new Random(5);
        float[] a = new float[2 * in];
        float[] b = new float[out * 2];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) r.nextGaussian();
        }
        for (int i = 0; i < b.length; i++) {
            b[i] = (float) r.nextGaussian();
        }
        Path adapter = Files.createDirectories(dir.resolve("adapter"));
        Files.writeString(adapter.resolve("adapter_config.json"), "{\"peft_type\": \"LORA\", \"r\": 2, \"lora_alpha\": 8, \"target_modules\": [\"q_proj\"]}");
        new SafetensorsWriter()
                .add("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", DType.F32, new long[] {2, in}, MemorySegment.ofArray(a))
                .add("base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight", DType.F32, new long[] {out, 2}, MemorySegment.ofArray(b))
                .write(adapter.resolve("adapter_model.safetensors"));
        Map<String, float[]> got = merge("lora", """
                merge_method: linear
                models:
                  - {model: $D/base+$D/adapter, parameters: {weight: 1.0}}
                dtype: float32
                """);
        Map<String, float[]> expected = new LinkedHashMap<>(base);
        float[] w = base.get(weight).clone();
        for (int o = 0; o < out; o++) {
            for (int c = 0; c < in; c++) {
                w[o * in + c] += 4 * (b[o * 2] * a[c] + b[o * 2 + 1] * a[in + c]); // scaling · (B @ A)[o, c]
            }
        }
        expected.put(weight, w);
        assertClose(expected, got, 1e-5);
    }

    @Test
    public void shardedBf16InputsMergeIntoShardsOfTheAskedDtype() throws Exception {
        // m2 stored as bf16 in shards of at most 200 kB, as large checkpoints come
        Path sharded = Files.createDirectories(dir.resolve("m2-bf16"));
        Files.copy(dir.resolve("m2/config.json"), sharded.resolve("config.json"));
        SafetensorsWriter w = new SafetensorsWriter();
        Map<String, float[]> rounded = new LinkedHashMap<>();
        try (SafetensorsFile f = SafetensorsFile.open(dir.resolve("m2/model.safetensors"))) {
            for (var e : m2.entrySet()) {
                float[] x = e.getValue();
                short[] bf = new short[x.length];
                float[] back = new float[x.length];
                for (int i = 0; i < x.length; i++) {
                    bf[i] = DType.floatToBf16(x[i]);
                    back[i] = DType.bf16ToFloat(bf[i]);
                }
                rounded.put(e.getKey(), back);
                w.add(e.getKey(), DType.BF16, f.info(e.getKey()).shape(), MemorySegment.ofArray(bf));
            }
        }
        w.writeSharded(sharded, "model", 200_000);
        assertTrue(Files.exists(sharded.resolve("model.safetensors.index.json")));
        Path config = dir.resolve("sharded.yaml");
        Files.writeString(config, """
                merge_method: linear
                models:
                  - {model: $D/m1, parameters: {weight: 0.5}}
                  - {model: $D/m2-bf16, parameters: {weight: 0.5}}
                out_dtype: bfloat16
                """.replace("$D", dir.toString()));
        Path out = dir.resolve("sharded-out");
        LauncherIT.Result r = LauncherIT.attune("merge", config.toString(), "--out", out.toString(), "--max-shard-size", "300kB");
        assertEquals(r.err(), 0, r.code());
        assertTrue(Files.isRegularFile(out.resolve("model.safetensors.index.json")));
        assertTrue(Files.readString(out.resolve("config.json")).contains("\"torch_dtype\" : \"bfloat16\""));
        try (var reader = ai.attune.api.io.SafetensorsReader.openModelDir(out)) {
            for (String k : base.keySet()) {
                assertEquals(DType.BF16, reader.info(k).dtype());
                MemorySegment seg = reader.data(k);
                float[] x1 = m1.get(k);
                float[] x2 = rounded.get(k);
                for (int i = 0; i < x1.length; i++) {
                    float want = DType.bf16ToFloat(DType.floatToBf16((0.5f * x1[i] + 0.5f * x2[i]) / 1f));
                    assertEquals(k + "[" + i + "]", want, DType.bf16ToFloat(seg.get(ValueLayout.JAVA_SHORT_UNALIGNED, 2L * i)), 0f);
                }
            }
        }
    }
}
