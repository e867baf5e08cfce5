package ai.attune.plugins.model.llama;

import ai.attune.api.autograd.Ops;
import ai.attune.api.model.KvCache;
import ai.attune.api.model.ModelHooks;
import ai.attune.api.nn.Module;
import ai.attune.api.nn.RMSNorm;
import ai.attune.api.nn.SwiGluMlp;
import ai.attune.api.tensor.Backend;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;

/** {@code LlamaDecoderLayer}: pre-norm attention and SwiGLU MLP, each with a residual. */
final class LlamaDecoderLayer extends Module {
    private final LlamaAttention selfAttn;
    private final SwiGluMlp mlp;
    private final RMSNorm inputLayernorm;
    private final RMSNorm postAttentionLayernorm;

    LlamaDecoderLayer(LlamaConfig cfg, Backend be, DType dtype, Scope scope) {
        this.selfAttn = register("self_attn", new LlamaAttention(cfg, be, dtype, scope));
        this.mlp = register("mlp", new SwiGluMlp(be, dtype, scope, cfg.hiddenSize(), cfg.intermediateSize(), cfg.mlpBias()));
        this.inputLayernorm = register("input_layernorm", new RMSNorm(be, dtype, scope, cfg.hiddenSize(), cfg.rmsNormEps()));
        this.postAttentionLayernorm = register("post_attention_layernorm", new RMSNorm(be, dtype, scope, cfg.hiddenSize(), cfg.rmsNormEps()));
    }

    /** h [b, t, hidden]; prefix: this layer's learned {keys, values} [kv, P, d], or null; hooks: the sublayer outputs. */
    Tensor forward(Tensor h, Tensor positions, Tensor keyMask, KvCache cache, int layer, Tensor[] prefix, ModelHooks hooks) {
        h = Ops.add(h, hooks.attentionOutput(layer, selfAttn.forward(inputLayernorm.forward(h), positions, keyMask, cache, layer, prefix)));
        return Ops.add(h, hooks.mlpOutput(layer, mlp.forward(postAttentionLayernorm.forward(h))));
    }
}
