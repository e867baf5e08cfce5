package ai.attune.plugins.prefixtuning;

import ai.attune.api.autograd.GradMode;
import ai.attune.api.model.CausalLM;
import ai.attune.api.model.ModelHooks;
import ai.attune.api.model.PromptLearningAdapter;
import ai.attune.api.nn.Linear;
import ai.attune.api.nn.Module;
import ai.attune.api.nn.Parameter;
import ai.attune.api.spi.Method;
import ai.attune.api.spi.MethodContext;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Scope;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.osgi.service.component.annotations.Component;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Prefix tuning (Li and Liang 2021) with PEFT's semantics and adapter format: P learned keys and
 * values in front of every attention layer of a frozen causal LM, through the model's
 * {@link ModelHooks.KvPrefix} hook. They are used as stored (no projection, no rotary embedding);
 * real tokens sit at positions P..P+t-1 and attend to every prefix slot; labels are unchanged. With
 * grouped-query attention PEFT's rule holds: token_dim = head_dim·kv_heads and the prefix has
 * kv_heads heads.
 */
@Component(service = Method.class, property = Method.PROPERTY + "=prefix_tuning")
public final class PrefixTuningMethod implements Method<PrefixTuningConfig> {
    static final String CONFIG = PromptLearningAdapter.CONFIG;

    @Override
    public Class<PrefixTuningConfig> configType() {
        return PrefixTuningConfig.class;
    }

    @Override
    public PrefixTuningConfig defaultConfig() {
        return PrefixTuningConfig.DEFAULTS;
    }

    /** token_dim: PEFT's width of one layer's keys (or values). */
    static int tokenDim(ModelHooks.Dims d) {
        return d.headDim() * d.kvHeads();
    }

    @Override
    public List<Parameter> apply(Module model, PrefixTuningConfig c, MethodContext ctx) throws IOException {
        if (!(model instanceof CausalLM lm)) {
            throw new IllegalArgumentException("prefix tuning needs a causal language model, not " + model.getClass().getSimpleName());
        }
        if (model.children().containsKey(PrefixEncoder.NAME)) {
            throw new IllegalStateException("the model already carries a prefix encoder; apply prefix tuning to a fresh base model");
        }
        ModelHooks.Dims d = lm.hooks().dims();
        int p = c.numVirtualTokens();
        int width = d.layers() * 2 * tokenDim(d);
        int embedWidth = c.prefixProjection() ? tokenDim(d) : width;
        float[] init = c.initFrom() != null ? load(Path.of(c.initFrom()), p, width) : gaussian(ctx.seed(), "embedding", p * embedWidth);
        for (Parameter param : model.namedParameters().values()) {
            param.setTrainable(false);
        }
        Parameter embedding = new Parameter("embedding.weight", tensor(ctx, init, p, embedWidth), true); // [P, width]
        Linear down = null;
        Linear up = null;
        if (c.prefixProjection()) {
            int hidden = c.encoderHiddenSize() != null ? c.encoderHiddenSize() : d.hidden();
            down = new Linear(ctx.backend(), DType.F32, ctx.scope(), tokenDim(d), hidden, true);
            up = new Linear(ctx.backend(), DType.F32, ctx.scope(), hidden, width, true);
            kaimingUniform(ctx, down, tokenDim(d), "transform.0");
            kaimingUniform(ctx, up, hidden, "transform.2");
        }
        PrefixEncoder encoder = model.addChild(PrefixEncoder.NAME, new PrefixEncoder(embedding, down, up, d));
        lm.hooks().setKvPrefix(encoder);
        List<Parameter> trainable = new ArrayList<>();
        encoder.namedParameters().values().forEach(trainable::add);
        return trainable;
    }

    private static Tensor tensor(MethodContext ctx, float[] values, int... shape) {
        Tensor t = ctx.backend().zeros(DType.F32, shape, ctx.scope());
        ctx.backend().copyFromBytes(MemorySegment.ofArray(values), t);
        return t;
    }

    /** {@code torch.nn.Embedding}'s N(0, 1), from a stream of the run's seed and the tensor's name. */
    static float[] gaussian(long seed, String name, int n) {
        SplittableRandom rng = new SplittableRandom(seed ^ name.hashCode() * 0x9E3779B97F4A7C15L);
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            out[i] = (float) rng.nextGaussian();
        }
        return out;
    }

    /** {@code torch.nn.Linear}'s default: weight and bias U(-1/sqrt(in), 1/sqrt(in)). */
    private static void kaimingUniform(MethodContext ctx, Linear l, int in, String name) {
        SplittableRandom rng = new SplittableRandom(ctx.seed() ^ name.hashCode() * 0xBF58476D1CE4E5B9L);
        double bound = 1 / Math.sqrt(in);
        for (Parameter p : l.namedParameters().values()) {
            float[] v = new float[(int) p.value().numel()];
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) ((rng.nextDouble() * 2 - 1) * bound);
            }
            ctx.backend().copyFromBytes(MemorySegment.ofArray(v), p.value());
        }
    }

    static float[] load(Path dir, int p, int width) throws IOException {
        return PromptLearningAdapter.read(dir, p, width, "layers·2·token_dim");
    }

    @Override
    public void save(Module model, PrefixTuningConfig c, MethodContext ctx, Path out) throws IOException {
        PrefixEncoder encoder = (PrefixEncoder) model.children().get(PrefixEncoder.NAME);
        ModelHooks.Dims d = ((CausalLM) model).hooks().dims();
        float[] prefix;
        try (Scope s = Scope.open("prefix-save"); GradMode.Region ng = GradMode.noGrad()) {
            prefix = Tensors.toFloats(encoder.prefix()); // PEFT saves the projected prefix, [P, layers·2·token_dim]
        }
        // with grouped-query attention PEFT counts the key/value heads
        ObjectNode cfg = PromptLearningAdapter.config("PREFIX_TUNING", c.numVirtualTokens(), tokenDim(d), d.layers(), d.kvHeads(), ctx.baseModelDir());
        if (c.encoderHiddenSize() == null) {
            cfg.putNull("encoder_hidden_size");
        } else {
            cfg.put("encoder_hidden_size", c.encoderHiddenSize());
        }
        cfg.put("prefix_projection", c.prefixProjection());
        PromptLearningAdapter.write(out, cfg, prefix, c.numVirtualTokens(), d.layers() * 2 * tokenDim(d));
    }

    @Override
    public boolean recognizes(com.fasterxml.jackson.databind.JsonNode c) {
        return c.path("peft_type").asText("").equals("PREFIX_TUNING");
    }

    /** The saved prefix (already projected, as PEFT saves it) installed for inference. */
    @Override
    public void load(Module model, Path dir, MethodContext context) throws IOException {
        int p = new ObjectMapper().readTree(dir.resolve(CONFIG).toFile()).path("num_virtual_tokens").asInt(0);
        apply(model, new PrefixTuningConfig(p, false, null, dir.toString()), context);
    }
}
