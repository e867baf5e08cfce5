package ai.attune.plugins.prefixtuning;

import ai.attune.api.autograd.GradMode;
import ai.attune.api.io.SafetensorsFile;
import ai.attune.api.io.SafetensorsReader;
import ai.attune.api.io.SafetensorsWriter;
import ai.attune.api.model.CausalLM;
import ai.attune.api.model.KvCache;
import ai.attune.api.model.ModelConfig;
import ai.attune.api.model.ModelHooks;
import ai.attune.api.nn.DropoutSeeds;
import ai.attune.api.nn.Parameter;
import ai.attune.api.spi.MethodContext;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensors;
import ai.attune.kernels.jvm.JvmBackend;
import ai.attune.plugins.model.llama.LlamaFamily;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Prefix tuning on the pretrained stories260K (8 heads, 4 key/value heads: PEFT's grouped-query
 * rule applies). The oracle for PEFT's layout is the model itself: a prompt_embeddings tensor laid
 * out from the keys and values the model caches for real tokens X must make the model continue as
 * if X had been read.
 */
class PrefixTuningMethodTest {
    static final Path STORIES = Path.of("../../../shared/models/stories260K");
    static final long[] X = {1, 403, 407};
    static final long[] IDS = {261, 378, 432, 383};
    final JvmBackend be = new JvmBackend();

    @TempDir
    Path tmp;

    CausalLM load(Scope job) throws Exception {
        try (SafetensorsReader w = SafetensorsReader.openModelDir(STORIES)) {
            return (CausalLM) new LlamaFamily().load(ModelConfig.read(STORIES), w, be, DType.F32, job);
        }
    }

    MethodContext ctx(Scope job) {
        return new MethodContext(be, DType.F32, job, 3, new DropoutSeeds(3), STORIES, null);
    }

    @Test
    void aPrefixLaidOutFromCachedKeysAndValuesContinuesLikeTheTokens() throws Exception {
        int p = X.length;
        try (Scope job = Scope.open("job"); GradMode.Region ng = GradMode.noGrad()) {
            CausalLM base = load(job);
            ModelHooks.Dims d = base.hooks().dims();
            int tokenDim = d.kvHeads() * d.headDim();
            long[] both = new long[p + IDS.length];
            System.arraycopy(X, 0, both, 0, p);
            System.arraycopy(IDS, 0, both, p, IDS.length);
            double[] full = Tensors.toDoubles(base.forward(Tensors.ofLongs(be, both, 1, both.length), null, null));

            KvCache cache = base.newCache(1, p, job);
            base.forward(Tensors.ofLongs(be, X, 1, p), null, cache);
            // PEFT's layout: row p is [layer 0 keys | layer 0 values | layer 1 keys | ...], each kv-major then head_dim
            float[] prefix = new float[p * d.layers() * 2 * tokenDim];
            for (int l = 0; l < d.layers(); l++) {
                double[][] kv = {Tensors.toDoubles(cache.cached(l)[0]), Tensors.toDoubles(cache.cached(l)[1])}; // [1, kv, P, d]
                for (int s = 0; s < 2; s++) {
                    for (int h = 0; h < d.kvHeads(); h++) {
                        for (int i = 0; i < p; i++) {
                            for (int j = 0; j < d.headDim(); j++) {
                                prefix[i * d.layers() * 2 * tokenDim + (2 * l + s) * tokenDim + h * d.headDim() + j] =
                                        (float) kv[s][(h * p + i) * d.headDim() + j];
                            }
                        }
                    }
                }
            }
            Path adapter = Files.createDirectories(tmp.resolve("from-cache"));
            new SafetensorsWriter().add("prompt_embeddings", DType.F32, new long[] {p, (long) d.layers() * 2 * tokenDim},
                    MemorySegment.ofArray(prefix)).write(adapter.resolve("adapter_model.safetensors"));

            CausalLM tuned = load(job);
            new PrefixTuningMethod().apply(tuned.module(), new PrefixTuningConfig(p, false, null, adapter.toString()), ctx(job));
            double[] got = Tensors.toDoubles(tuned.forward(Tensors.ofLongs(be, IDS, 1, IDS.length), null, null)); // [1, t, 512]
            for (int i = 0; i < got.length; i++) {
                assertEquals(full[p * 512 + i], got[i], 1e-4, "logit " + i);
            }
        }
    }

    @Test
    void savesPeftsPrefixTuningAdapterWithTheProjectedPrefix() throws Exception {
        Path out = tmp.resolve("adapter");
        try (Scope job = Scope.open("job")) {
            CausalLM lm = load(job);
            PrefixTuningConfig c = new PrefixTuningConfig(5, true, 16, null);
            List<Parameter> trainable = new PrefixTuningMethod().apply(lm.module(), c, ctx(job));
            assertEquals(List.of("prefix_encoder.embedding.weight", "prefix_encoder.transform.0.weight", "prefix_encoder.transform.0.bias",
                    "prefix_encoder.transform.2.weight", "prefix_encoder.transform.2.bias"), lm.module().namedParameters().entrySet().stream()
                    .filter(e -> e.getValue().trainable()).map(java.util.Map.Entry::getKey).toList());
            assertEquals(5, trainable.size());
            new PrefixTuningMethod().save(lm.module(), c, ctx(job), out);
        }
        JsonNode cfg = new ObjectMapper().readTree(out.resolve("adapter_config.json").toFile());
        assertEquals("PREFIX_TUNING", cfg.get("peft_type").asText());
        assertEquals(4 * 8, cfg.get("token_dim").asInt(), "head_dim x kv heads under GQA");
        assertEquals(4, cfg.get("num_attention_heads").asInt(), "the kv heads under GQA");
        assertEquals(5, cfg.get("num_layers").asInt());
        assertEquals(true, cfg.get("prefix_projection").asBoolean());
        try (SafetensorsFile st = SafetensorsFile.open(out.resolve("adapter_model.safetensors"))) {
            assertEquals(java.util.Set.of("prompt_embeddings"), st.names());
            assertArrayEquals(new long[] {5, 5 * 2 * 32}, st.info("prompt_embeddings").shape());
        }
    }
}
