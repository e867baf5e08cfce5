package ai.attune.plugins.prompttuning;

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
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.osgi.service.component.annotations.Component;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Prompt tuning (Lester et al. 2021) with PEFT's semantics and adapter format: P learned virtual
 * token embeddings in front of the input of a frozen causal LM, through the model's
 * {@link ModelHooks.VirtualTokens} hook. Positions run 0..P+t-1 and the labels get P copies of
 * -100 in front, so the last virtual token predicts the first real token.
 */
@Component(service = Method.class, property = Method.PROPERTY + "=prompt_tuning")
public final class PromptTuningMethod implements Method<PromptTuningConfig> {
    static final String WEIGHTS = "adapter_model.safetensors";
    static final String CONFIG = "adapter_config.json";
    static final String KEY = "prompt_embeddings";

    @Override
    public Class<PromptTuningConfig> configType() {
        return PromptTuningConfig.class;
    }

    @Override
    public PromptTuningConfig defaultConfig() {
        return PromptTuningConfig.DEFAULTS;
    }

    @Override
    public List<Parameter> apply(Module model, PromptTuningConfig c, MethodContext ctx) throws IOException {
        if (!(model instanceof CausalLM lm)) {
            throw new IllegalArgumentException("prompt tuning needs a causal language model, not " + model.getClass().getSimpleName());
        }
        if (model.children().containsKey(PromptEncoder.NAME)) {
            throw new IllegalStateException("the model already carries a prompt encoder; apply prompt tuning to a fresh base model");
        }
        ModelHooks.Dims d = lm.hooks().dims();
        int p = c.numVirtualTokens();
        float[] init = c.initFrom() != null ? load(Path.of(c.initFrom()), p, d.hidden()) : random(ctx.seed(), p * d.hidden());
        for (Parameter param : model.namedParameters().values()) {
            param.setTrainable(false);
        }
        Tensor value = ctx.backend().zeros(DType.F32, new int[] {p, d.hidden()}, ctx.scope()); // [P, hidden]
        ctx.backend().copyFromBytes(MemorySegment.ofArray(init), value);
        PromptEncoder encoder = model.addChild(PromptEncoder.NAME, new PromptEncoder(value));
        lm.hooks().setVirtualTokens(() -> encoder.weight().value());
        return List.of(encoder.weight());
    }

    /** {@code torch.nn.Embedding}'s initialisation, N(0, 1), from a stream seeded by the run. */
    static float[] random(long seed, int n) {
        SplittableRandom rng = new SplittableRandom(seed ^ 0x70726f6d70744cL); // "promptL": a stream of its own
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            out[i] = (float) rng.nextGaussian();
        }
        return out;
    }

    static float[] load(Path dir, int p, int hidden) throws IOException {
        Path file = dir.resolve(WEIGHTS);
        try (SafetensorsFile st = SafetensorsFile.open(file)) {
            if (!st.contains(KEY)) {
                throw new IllegalArgumentException(file + ": holds no '" + KEY + "'; init_from takes a prompt-tuning adapter directory");
            }
            var info = st.info(KEY);
            if (info.dtype() != DType.F32 || !Arrays.equals(info.shape(), new long[] {p, hidden})) {
                throw new IllegalArgumentException(file + ": '" + KEY + "' is " + info.dtype() + " " + Arrays.toString(info.shape())
                        + ", not F32 [" + p + ", " + hidden + "] (num_virtual_tokens, hidden size)");
            }
            return st.data(KEY).toArray(ValueLayout.JAVA_FLOAT_UNALIGNED);
        }
    }

    @Override
    public void save(Module model, PromptTuningConfig c, MethodContext ctx, Path out) throws IOException {
        PromptEncoder encoder = (PromptEncoder) model.children().get(PromptEncoder.NAME);
        ModelHooks.Dims d = ((CausalLM) model).hooks().dims();
        float[] weights = Tensors.toFloats(encoder.weight().value());
        ObjectNode cfg = JsonNodeFactory.instance.objectNode();
        cfg.putNull("auto_mapping");
        if (ctx.baseModelDir() == null) {
            cfg.putNull("base_model_name_or_path");
        } else {
            cfg.put("base_model_name_or_path", ctx.baseModelDir().toString());
        }
        cfg.put("inference_mode", true);
        cfg.put("num_attention_heads", d.heads());
        cfg.put("num_layers", d.layers());
        cfg.put("num_transformer_submodules", 1);
        cfg.put("num_virtual_tokens", c.numVirtualTokens());
        cfg.put("peft_type", "PROMPT_TUNING");
        cfg.put("prompt_tuning_init", c.promptTuningInit());
        cfg.putNull("prompt_tuning_init_text");
        cfg.putNull("revision");
        cfg.put("task_type", "CAUSAL_LM");
        cfg.put("token_dim", d.hidden());
        cfg.putNull("tokenizer_kwargs");
        cfg.putNull("tokenizer_name_or_path");
        AtomicDirectory.create(out, tmp -> {
            new SafetensorsWriter().add(KEY, DType.F32, new long[] {c.numVirtualTokens(), d.hidden()}, MemorySegment.ofArray(weights))
                    .write(tmp.resolve(WEIGHTS));
            Files.writeString(tmp.resolve(CONFIG), new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(cfg));
        });
    }

    @Override
    public boolean recognizes(com.fasterxml.jackson.databind.JsonNode c) {
        return c.path("peft_type").asText("").equals("PROMPT_TUNING");
    }

    /** The saved virtual tokens installed for inference (they still answer to the optimizer if trained further). */
    @Override
    public void load(Module model, Path dir, MethodContext context) throws IOException {
        int p = new ObjectMapper().readTree(dir.resolve(CONFIG).toFile()).path("num_virtual_tokens").asInt(0);
        apply(model, new PromptTuningConfig(p, "RANDOM", null, dir.toString()), context);
    }
}
