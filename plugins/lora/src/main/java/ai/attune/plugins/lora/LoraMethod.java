package ai.attune.plugins.lora;

import ai.attune.api.autograd.GradMode;
import ai.attune.api.model.ModelConfig;
import ai.attune.api.nn.LinearLayer;
import ai.attune.api.nn.Module;
import ai.attune.api.nn.Parameter;
import ai.attune.api.spi.Method;
import ai.attune.api.spi.MethodContext;
import ai.attune.api.tensor.Scope;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.osgi.service.component.annotations.Component;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * LoRA (Hu et al. 2021) with PEFT's semantics, keys and adapter format: a trainable low-rank update
 * {@code B A} beside each targeted linear layer of a frozen base model.
 */
@Component(service = Method.class, property = Method.PROPERTY + "=lora")
public final class LoraMethod implements Method<LoraConfig> {
    /**
     * PEFT's {@code TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING} for the families Attune
     * reads: the targets used when {@code target_modules} is not set.
     */
    static final Map<String, List<String>> DEFAULT_TARGETS = Map.of(
            "llama", List.of("q_proj", "v_proj"),
            "mistral", List.of("q_proj", "v_proj"),
            "qwen2", List.of("q_proj", "v_proj"),
            "gpt2", List.of("c_attn"),
            "bert", List.of("query", "value"));

    @Override
    public Class<LoraConfig> configType() {
        return LoraConfig.class;
    }

    @Override
    public LoraConfig defaultConfig() {
        return LoraConfig.DEFAULTS;
    }

    @Override
    public List<Parameter> apply(Module model, LoraConfig config, MethodContext context) throws IOException {
        LoraConfig c = config == null ? LoraConfig.DEFAULTS : config;
        Map<String, LoraLayer> existing = LoraLayers.find(model);
        if (!existing.isEmpty()) {
            throw new IllegalStateException("the model already carries LoRA adapters (on '" + existing.keySet().iterator().next()
                    + "', ...); apply LoRA to a fresh base model");
        }
        Map<String, LinearLayer> targets = targets(c, context).select(model);
        checkOneLayout(targets);
        for (Parameter p : model.namedParameters().values()) {
            p.setTrainable(false); // before the adapters exist, so only the base is frozen
        }
        Map<String, LoraLayer> layers = new LinkedHashMap<>();
        try (GradMode.Region ng = GradMode.noGrad()) {
            for (Map.Entry<String, LinearLayer> e : targets.entrySet()) {
                LoraLayer l = LoraLayer.attach(e.getValue(), c.r(), c.scaling(), c.loraDropout(), context.dropout(),
                        context.dtype(), context.scope());
                l.initKaimingUniform(context.seed(), e.getKey());
                layers.put(e.getKey(), l);
            }
            if (c.initFrom() != null) {
                PeftAdapterDir.load(Path.of(c.initFrom()), layers);
            }
        }
        return LoraLayers.parameters(model);
    }

    @Override
    public void save(Module model, LoraConfig config, MethodContext context, Path out) throws IOException {
        LoraConfig c = config == null ? LoraConfig.DEFAULTS : config;
        Map<String, LoraLayer> layers = LoraLayers.find(model);
        if (layers.isEmpty()) {
            throw new IllegalStateException("the model carries no LoRA adapters to save; apply() LoRA to it first");
        }
        PeftAdapterDir.write(out, adapterConfig(c, context, layers), layers);
    }

    /** The targets in effect: the config's, or the model family's default (read from config.json's model_type). */
    static TargetModules targets(LoraConfig c, MethodContext context) throws IOException {
        if (c.targetModules() != null) {
            return c.targetModules();
        }
        Path dir = context.baseModelDir();
        if (dir == null || !Files.isRegularFile(dir.resolve("config.json"))) {
            throw new IllegalArgumentException("target_modules is not set and there is no base model config.json to pick "
                    + "the family's default from; list the modules to adapt, e.g. target_modules: [q_proj, v_proj]");
        }
        String type = ModelConfig.read(dir).modelType();
        List<String> names = DEFAULT_TARGETS.get(type);
        if (names == null) {
            throw new IllegalArgumentException("target_modules is not set and model_type '" + type + "' has no default "
                    + "targets; list the modules to adapt, or use target_modules: all-linear");
        }
        return new TargetModules(names, null);
    }

    /** PEFT stores one fan_in_fan_out per adapter, so the targets must share a weight layout. */
    private static void checkOneLayout(Map<String, LinearLayer> targets) {
        String first = targets.keySet().iterator().next();
        boolean fifo = targets.get(first).fanInFanOut();
        targets.forEach((path, layer) -> {
            if (layer.fanInFanOut() != fifo) {
                throw new IllegalArgumentException("target_modules select '" + first + "' stored " + (fifo ? "[in, out]" : "[out, in]")
                        + " and '" + path + "' stored " + (fifo ? "[out, in]" : "[in, out]")
                        + "; one adapter has one fan_in_fan_out, so target layers of one layout");
            }
        });
    }

    /** {@code adapter_config.json} as PEFT writes it for a causal LM. */
    static ObjectNode adapterConfig(LoraConfig c, MethodContext context, Map<String, LoraLayer> layers) throws IOException {
        ObjectNode n = JsonNodeFactory.instance.objectNode();
        n.put("peft_type", "LORA");
        n.put("task_type", "CAUSAL_LM");
        if (context.baseModelDir() == null) {
            n.putNull("base_model_name_or_path");
        } else {
            n.put("base_model_name_or_path", context.baseModelDir().toString());
        }
        n.put("inference_mode", true);
        n.put("r", c.r());
        if (c.loraAlpha() == Math.rint(c.loraAlpha()) && Math.abs(c.loraAlpha()) < 1e15) {
            n.put("lora_alpha", (long) c.loraAlpha()); // PEFT's lora_alpha is an int
        } else {
            n.put("lora_alpha", c.loraAlpha());
        }
        n.put("lora_dropout", c.loraDropout());
        TargetModules targets = targets(c, context);
        if (targets.allLinear()) {
            // PEFT replaces the shorthand with the names it matched, as their last path segments.
            TreeSet<String> names = new TreeSet<>();
            layers.keySet().forEach(p -> names.add(p.substring(p.lastIndexOf('.') + 1)));
            names.forEach(n.putArray("target_modules")::add);
        } else if (targets.names() != null) {
            targets.names().forEach(n.putArray("target_modules")::add);
        } else {
            n.put("target_modules", targets.regex());
        }
        n.put("use_rslora", c.useRslora());
        // The layers decide, as in PEFT, which overrides a contradicting flag with a warning.
        n.put("fan_in_fan_out", layers.values().iterator().next().base().fanInFanOut());
        n.put("bias", "none");
        n.putNull("modules_to_save");
        n.put("init_lora_weights", true);
        n.put("use_dora", false);
        return n;
    }

    /** PEFT's LoRA adapters; a config without {@code peft_type} (older PEFT) counts when it has a rank and no AdapterHub {@code config}. */
    @Override
    public boolean recognizes(com.fasterxml.jackson.databind.JsonNode c) {
        return c.path("peft_type").asText("").equals("LORA") || !c.has("peft_type") && c.has("r") && !c.path("config").isObject();
    }

    @Override
    public void load(Module model, Path dir, MethodContext context) throws IOException {
        LoraAdapter.read(dir).mergeInto(model);
    }

    @Override
    public List<ai.attune.api.model.WeightUpdate> weightUpdates(Path dir) throws IOException {
        return List.copyOf(LoraAdapter.read(dir).updates());
    }

    @Override
    public boolean mergesIntoWeights() {
        return true;
    }

    /**
     * Per adapted layer, {@code ||scaling · B A||_F}: how far the update has moved the layer. Computed
     * from the r×r Gram matrices, {@code ||BA||²_F = Σ (BᵀB) ∘ (A Aᵀ)}, never forming the [out, in] product.
     */
    @Override
    public void metrics(Module model, LoraConfig config, ai.attune.api.spi.Metrics sink) {
        for (var e : LoraLayers.find(model).entrySet()) {
            LoraLayer l = e.getValue();
            int r = l.rank();
            float[] a = ai.attune.api.tensor.Tensors.toFloats(l.loraA().weight().value()); // [r, in]
            float[] b = ai.attune.api.tensor.Tensors.toFloats(l.loraB().weight().value()); // [out, r]
            int in = a.length / r;
            int out = b.length / r;
            double sq = 0;
            for (int i = 0; i < r; i++) {
                for (int j = 0; j < r; j++) {
                    double bb = 0;
                    for (int o = 0; o < out; o++) {
                        bb += (double) b[o * r + i] * b[o * r + j];
                    }
                    double aa = 0;
                    for (int c = 0; c < in; c++) {
                        aa += (double) a[i * in + c] * a[j * in + c];
                    }
                    sq += bb * aa;
                }
            }
            sink.record("ba_norm." + e.getKey(), l.scaling() * Math.sqrt(Math.max(sq, 0)));
        }
    }
}
