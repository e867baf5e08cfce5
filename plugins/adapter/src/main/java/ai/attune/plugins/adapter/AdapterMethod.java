package ai.attune.plugins.adapter;

import ai.attune.api.io.AtomicDirectory;
import ai.attune.api.io.SafetensorsFile;
import ai.attune.api.io.SafetensorsWriter;
import ai.attune.api.model.CausalLM;
import ai.attune.api.model.ModelHooks;
import ai.attune.api.nn.Module;
import ai.attune.api.nn.Parameter;
import ai.attune.api.spi.Method;
import ai.attune.api.spi.MethodContext;
import ai.attune.api.tensor.DType;
import ai.attune.api.tensor.Tensor;
import ai.attune.api.tensor.Tensors;
import ai.attune.api.tensor.UnaryOp;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.osgi.service.component.annotations.Component;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Houlsby bottleneck adapters (Houlsby et al. 2019) in AdapterHub's {@code double_seq_bn} layout: in
 * every block, one adapter on the attention sublayer's output and one on the feed-forward
 * sublayer's output, each after the output projection and before the residual add, each with its
 * own inner residual. The model is frozen; only the adapters train. They reach the model through
 * the api's {@link ModelHooks.SublayerOutputs} hook and live under each block as
 * {@code attention_adapters.adapters.<name>} and {@code output_adapters.adapters.<name>}, so their
 * parameter names are AdapterHub's keys.
 */
@Component(service = Method.class, property = Method.PROPERTY + "=adapter")
public final class AdapterMethod implements Method<AdapterConfig> {
    static final String WEIGHTS = "adapter.safetensors";
    static final String CONFIG = "adapter_config.json";
    static final String ATTENTION = "attention_adapters";
    static final String OUTPUT = "output_adapters";

    @Override
    public Class<AdapterConfig> configType() {
        return AdapterConfig.class;
    }

    @Override
    public AdapterConfig defaultConfig() {
        return AdapterConfig.DEFAULTS;
    }

    @Override
    public List<Parameter> apply(Module model, AdapterConfig c, MethodContext ctx) throws IOException {
        if (!(model instanceof CausalLM lm)) {
            throw new IllegalArgumentException("bottleneck adapters need a causal language model, not " + model.getClass().getSimpleName());
        }
        ModelHooks hooks = lm.hooks();
        int hidden = hooks.dims().hidden();
        int r = hidden / c.reductionFactor();
        if (r < 1) {
            throw new IllegalArgumentException("reduction_factor " + c.reductionFactor() + " leaves no bottleneck of a hidden size of " + hidden);
        }
        if (!hooks.blocks().isEmpty() && hooks.blocks().get(0).children().containsKey(ATTENTION)) {
            throw new IllegalStateException("the model already carries adapters; apply them to a fresh base model");
        }
        for (Parameter p : model.namedParameters().values()) {
            p.setTrainable(false);
        }
        UnaryOp f = switch (c.nonLinearity()) {
            case "relu" -> UnaryOp.RELU;
            case "gelu" -> UnaryOp.GELU_ERF;
            case "tanh" -> UnaryOp.TANH;
            default -> UnaryOp.SILU; // swish
        };
        List<BottleneckAdapter> attention = new ArrayList<>();
        List<BottleneckAdapter> output = new ArrayList<>();
        for (Module block : hooks.blocks()) {
            attention.add(attach(block, ATTENTION, c.name(), new BottleneckAdapter(ctx.backend(), ctx.scope(), hidden, r, f)));
            output.add(attach(block, OUTPUT, c.name(), new BottleneckAdapter(ctx.backend(), ctx.scope(), hidden, r, f)));
        }
        Map<String, Parameter> trainable = adapterParameters(model);
        if (c.initFrom() != null) {
            load(Path.of(c.initFrom()), trainable, ctx);
        } else {
            initBert(trainable, ctx);
        }
        hooks.setSublayerOutputs(new ModelHooks.SublayerOutputs() {
            @Override
            public Tensor attention(int layer, Tensor out) {
                return attention.get(layer).forward(out);
            }

            @Override
            public Tensor mlp(int layer, Tensor out) {
                return output.get(layer).forward(out);
            }
        });
        return List.copyOf(trainable.values());
    }

    private static BottleneckAdapter attach(Module block, String where, String name, BottleneckAdapter adapter) {
        Module adapters = block.addChild(where, new Module() { }).addChild("adapters", new Module() { });
        return adapters.addChild(name, adapter);
    }

    /** The adapters' parameters by their full names, in the model's order. */
    static Map<String, Parameter> adapterParameters(Module model) {
        Map<String, Parameter> out = new LinkedHashMap<>();
        model.namedParameters().forEach((n, p) -> {
            if (n.contains("." + ATTENTION + ".adapters.") || n.contains("." + OUTPUT + ".adapters.")) {
                out.put(n, p);
            }
        });
        return out;
    }

    /** AdapterHub's {@code init_weights: bert}: weights N(0, 0.02), biases 0, from streams of the run's seed and each name. */
    private static void initBert(Map<String, Parameter> params, MethodContext ctx) {
        params.forEach((name, p) -> {
            float[] v = new float[(int) p.value().numel()];
            if (name.endsWith(".weight")) {
                SplittableRandom rng = new SplittableRandom(ctx.seed() ^ name.hashCode() * 0x9E3779B97F4A7C15L);
                for (int i = 0; i < v.length; i++) {
                    v[i] = (float) (0.02 * rng.nextGaussian());
                }
            }
            ctx.backend().copyFromBytes(MemorySegment.ofArray(v), p.value());
        });
    }

    private static void load(Path dir, Map<String, Parameter> params, MethodContext ctx) throws IOException {
        Path file = dir.resolve(WEIGHTS);
        try (SafetensorsFile st = SafetensorsFile.open(file)) {
            for (var e : params.entrySet()) {
                if (!st.contains(e.getKey())) {
                    throw new IllegalArgumentException(file + ": holds no '" + e.getKey() + "'; init_from takes an adapter directory of the same model and name");
                }
                var info = st.info(e.getKey());
                long[] want = Arrays.stream(e.getValue().value().shape()).asLongStream().toArray();
                if (info.dtype() != DType.F32 || !Arrays.equals(info.shape(), want)) {
                    throw new IllegalArgumentException(file + ": '" + e.getKey() + "' is " + info.dtype() + " " + Arrays.toString(info.shape())
                            + ", not F32 " + Arrays.toString(want));
                }
                ctx.backend().copyFromBytes(MemorySegment.ofArray(st.data(e.getKey()).toArray(ValueLayout.JAVA_FLOAT_UNALIGNED)), e.getValue().value());
            }
        }
    }

    @Override
    public void save(Module model, AdapterConfig c, MethodContext ctx, Path out) throws IOException {
        CausalLM lm = (CausalLM) model;
        ModelHooks.Dims d = lm.hooks().dims();
        SafetensorsWriter w = new SafetensorsWriter();
        for (var e : adapterParameters(model).entrySet()) {
            Tensor t = e.getValue().value();
            w.add(e.getKey(), DType.F32, Arrays.stream(t.shape()).asLongStream().toArray(), MemorySegment.ofArray(Tensors.toFloats(t)));
        }
        ObjectNode root = JsonNodeFactory.instance.objectNode();
        ObjectNode cfg = root.putObject("config");
        // AdapterHub's DoubleSeqBnConfig, every field, as adapters' to_dict writes it
        cfg.put("architecture", "bottleneck").put("mh_adapter", true).put("output_adapter", true)
                .put("reduction_factor", c.reductionFactor()).put("non_linearity", c.nonLinearity())
                .put("original_ln_before", false).put("original_ln_after", true).put("ln_before", false).put("ln_after", false)
                .put("init_weights", "bert").putNull("init_weights_seed").put("is_parallel", false).put("scaling", 1.0)
                .put("use_gating", false).put("residual_before_ln", true).put("adapter_residual_before_ln", false)
                .putNull("inv_adapter").putNull("inv_adapter_reduction_factor").put("cross_adapter", false);
        cfg.putArray("leave_out");
        cfg.put("dropout", 0.0).put("phm_layer", false).put("phm_dim", 4).put("shared_phm_rule", true).put("factorized_phm_rule", false)
                .put("phm_c_init", "normal").put("phm_init_range", 0.0001).put("learn_phm", true)
                .put("hypercomplex_nonlinearity", "glorot-uniform").put("phm_rank", 1).put("phm_bias", true).put("stochastic_depth", 0.0);
        root.put("hidden_size", d.hidden());
        com.fasterxml.jackson.databind.JsonNode base = baseConfig(ctx);
        root.put("model_type", base.path("model_type").asText(null));
        root.put("model_class", base.path("architectures").path(0).asText(model.getClass().getSimpleName()));
        root.put("model_name", ctx.baseModelDir() == null ? null : ctx.baseModelDir().toString());
        root.put("name", c.name());
        root.put("version", "1.2.0");
        AtomicDirectory.create(out, tmp -> {
            w.write(tmp.resolve(WEIGHTS));
            Files.writeString(tmp.resolve(CONFIG), new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(root));
        });
    }

    /** The base model's config.json, or an empty object. */
    private static com.fasterxml.jackson.databind.JsonNode baseConfig(MethodContext ctx) throws IOException {
        if (ctx.baseModelDir() == null || !Files.isRegularFile(ctx.baseModelDir().resolve("config.json"))) {
            return JsonNodeFactory.instance.objectNode();
        }
        return new ObjectMapper().readTree(ctx.baseModelDir().resolve("config.json").toFile());
    }

    /** AdapterHub's layout: a {@code config} object of a bottleneck adapter, no {@code peft_type}. */
    @Override
    public boolean recognizes(com.fasterxml.jackson.databind.JsonNode c) {
        return !c.has("peft_type") && c.path("config").isObject() && c.path("config").has("reduction_factor");
    }

    @Override
    public void load(Module model, Path dir, MethodContext context) throws IOException {
        com.fasterxml.jackson.databind.JsonNode c = new ObjectMapper().readTree(dir.resolve(CONFIG).toFile());
        apply(model, new AdapterConfig("double_seq_bn", c.path("config").path("reduction_factor").asInt(16),
                c.path("config").path("non_linearity").asText("swish"), c.path("name").asText("default"), dir.toString()), context);
    }
}
