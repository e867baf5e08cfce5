package ai.attune.plugins.model.llama;

import ai.attune.api.autograd.GradMode;
import ai.attune.api.autograd.Views;
import ai.attune.api.io.SafetensorsReader;
import ai.attune.api.model.CausalLM;
import ai.attune.api.model.KvCache;
import ai.attune.api.model.ModelConfig;
import ai.attune.api.model.ModelHooks;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;
import ai.attune.kernels.jvm.JvmBackend;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The forward hooks on the pretrained stories260K, against the model itself as the oracle: virtual
 * tokens that are the embeddings of real tokens X must give the logits of the sequence X + ids, and a
 * key/value prefix that is the (rotated) keys and values the model caches for X must give the logits
 * of ids after X (to 1e-4, the tolerance of cached against one-shot attention in PretrainedTinyLlamaTest).
 */
class ModelHooksTest {
    static final long[] X = {1, 403, 407, 261};
    static final long[] IDS = {378, 432, 383, 286, 261};

    @Test
    void virtualTokensAndKeyValuePrefixesActAsTheTokensTheyStandFor() throws Exception {
        JvmBackend be = new JvmBackend();
        try (Scope job = Scope.open("job"); SafetensorsReader w = SafetensorsReader.openModelDir(PretrainedTinyLlamaTest.DIR);
             GradMode.Region ng = GradMode.noGrad()) {
            CausalLM lm = (CausalLM) new LlamaFamily().load(ModelConfig.read(PretrainedTinyLlamaTest.DIR), w, be, DType.F32, job);
            int p = X.length;
            int t = IDS.length;
            long[] both = new long[2 * (p + t)];
            long[] ids = new long[2 * t];
            for (int r = 0; r < 2; r++) {
                System.arraycopy(X, 0, both, r * (p + t), p);
                System.arraycopy(IDS, 0, both, r * (p + t) + p, t);
                System.arraycopy(IDS, 0, ids, r * t, t);
            }
            double[] full = Tensors.toDoubles(lm.forward(Tensors.ofLongs(be, both, 2, p + t), null, null)); // [2, P + t, 512]

            Tensor table = lm.module().namedParameters().get("model.embed_tokens.weight").value(); // [vocab, hidden]
            int hidden = table.size(1);
            double[] rows = Tensors.toDoubles(table);
            double[] prompt = new double[p * hidden];
            for (int i = 0; i < p; i++) {
                System.arraycopy(rows, (int) X[i] * hidden, prompt, i * hidden, hidden);
            }
            Tensor virtual = Tensors.of(be, DType.F32, prompt, p, hidden);
            lm.hooks().setVirtualTokens(() -> virtual);
            double[] withPrompt = Tensors.toDoubles(lm.forward(Tensors.ofLongs(be, ids, 2, t), null, null)); // [2, P + t, 512]
            assertEquals(full.length, withPrompt.length, "logits for the P + t positions");
            for (int i = 0; i < full.length; i++) {
                assertEquals(full[i], withPrompt[i], 1e-5, "logit " + i);
            }
            // Decoding with a cache: the virtual tokens enter with the first forward only.
            KvCache decode = lm.newCache(1, t, job);
            double[] first = Tensors.toDoubles(lm.forward(Tensors.ofLongs(be, new long[] {IDS[0], IDS[1]}, 1, 2), null, decode)); // [1, P + 2, 512]
            assertEquals((p + 2) * 512, first.length);
            for (int j = 2; j < t; j++) {
                double[] step = Tensors.toDoubles(lm.forward(Tensors.ofLongs(be, new long[] {IDS[j]}, 1, 1), null, decode));
                for (int v = 0; v < 512; v++) {
                    assertEquals(full[(p + j) * 512 + v], step[v], 1e-4, "cached step " + j + " logit " + v);
                }
            }
            lm.hooks().setVirtualTokens(null);

            KvCache cache = lm.newCache(1, p, job);
            lm.forward(Tensors.ofLongs(be, X, 1, p), null, cache);
            lm.hooks().setKvPrefix(new ModelHooks.KvPrefix() {
                @Override
                public int length() {
                    return p;
                }

                @Override
                public Tensor[] keysValues(int layer) {
                    Tensor[] kv = cache.cached(layer); // [1, kv, P, d]
                    return new Tensor[] {Views.reshape(kv[0], kv[0].size(1), p, kv[0].size(3)), Views.reshape(kv[1], kv[1].size(1), p, kv[1].size(3))};
                }
            });
            double[] withPrefix = Tensors.toDoubles(lm.forward(Tensors.ofLongs(be, ids, 2, t), null, null)); // [2, t, 512]
            // Decoding with a cache: the prefix goes into the cache first, then token by token.
            KvCache decodePrefix = lm.newCache(1, t, job); // room for the prefix is added by the model
            assertEquals(t + p, decodePrefix.capacity());
            for (int j = 0; j < t; j++) {
                double[] step = Tensors.toDoubles(lm.forward(Tensors.ofLongs(be, new long[] {IDS[j]}, 1, 1), null, decodePrefix)); // [1, 1, 512]
                for (int v = 0; v < 512; v++) {
                    assertEquals(full[(p + j) * 512 + v], step[v], 1e-4, "cached step " + j + " logit " + v);
                }
            }
            assertEquals(2 * t * 512, withPrefix.length, "logits for the t real tokens");
            for (int r = 0; r < 2; r++) {
                for (int j = 0; j < t * 512; j++) {
                    assertEquals(full[r * (p + t) * 512 + p * 512 + j], withPrefix[r * t * 512 + j], 1e-4, "row " + r + " logit " + j);
                }
            }
        }
    }

    @Test
    void sublayerOutputsAreTheProjectionsOutputsBeforeTheResidual() throws Exception {
        JvmBackend be = new JvmBackend();
        try (Scope job = Scope.open("job"); SafetensorsReader w = SafetensorsReader.openModelDir(PretrainedTinyLlamaTest.DIR);
             GradMode.Region ng = GradMode.noGrad()) {
            ModelConfig cfg = ModelConfig.read(PretrainedTinyLlamaTest.DIR);
            long[] ids = {1, 403, 407, 261, 378};
            // Hooked: layer 2's attention output and layer 3's MLP output dropped.
            CausalLM hooked = (CausalLM) new LlamaFamily().load(cfg, w, be, DType.F32, job);
            hooked.hooks().setSublayerOutputs(new ModelHooks.SublayerOutputs() {
                @Override
                public Tensor attention(int layer, Tensor out) {
                    return layer == 2 ? ai.attune.api.autograd.Ops.mulScalar(out, 0) : out;
                }

                @Override
                public Tensor mlp(int layer, Tensor out) {
                    return layer == 3 ? ai.attune.api.autograd.Ops.mulScalar(out, 0) : out;
                }
            });
            double[] got = Tensors.toDoubles(hooked.forward(Tensors.ofLongs(be, ids, 1, ids.length), null, null));
            // Oracle: the same model with those output projections zeroed.
            CausalLM zeroed = (CausalLM) new LlamaFamily().load(cfg, w, be, DType.F32, job);
            var params = zeroed.module().namedParameters();
            be.fill(params.get("model.layers.2.self_attn.o_proj.weight").value(), 0);
            be.fill(params.get("model.layers.3.mlp.down_proj.weight").value(), 0);
            double[] want = Tensors.toDoubles(zeroed.forward(Tensors.ofLongs(be, ids, 1, ids.length), null, null));
            for (int i = 0; i < want.length; i++) {
                assertEquals(want[i], got[i], 1e-6, "logit " + i);
            }
            assertEquals(5, hooked.hooks().blocks().size(), "the blocks, in order");
        }
    }
}
